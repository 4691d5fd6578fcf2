/* sluice-lws: the libwebsockets echo peer of Sluice's benchmark suite
 * (tests/bench/run_bench.py), against Debian's libwebsockets (4.1).
 *
 *   sluice-lws --port N
 *
 * ws://127.0.0.1:N/ (any path) sends every text and binary message back
 * whole, as it came: one service thread; the pieces lws hands over are put
 * together until the message's last one, each finished message is queued on
 * its connection, and the queue is written when lws says the socket is
 * writeable. Text is checked for UTF-8, as the other servers under test do.
 *
 * Prints "PORT <n>" once listening; SIGTERM or SIGINT ends it. */

#include <libwebsockets.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One message, with LWS_PRE bytes of headroom before the payload for the
 * frame header lws_write() puts there. */
struct message
{
    struct message *next;
    size_t length;
    size_t capacity;
    int binary;
    unsigned char bytes[]; /* LWS_PRE + capacity */
};

struct session
{
    struct message *receiving; /* the message being put together, if any */
    struct message *head; /* finished, waiting to be written */
    struct message *tail;
};

static volatile sig_atomic_t interrupted;

static void onSignal(int signal)
{
    (void)signal;
    interrupted = 1;
}

static void freeMessages(struct message *message)
{
    while (message) {
        struct message *next = message->next;
        free(message);
        message = next;
    }
}

/* Appends a piece to the message being received, growing it as needed. */
static int append(struct session *session, const void *data, size_t length, int binary)
{
    struct message *message = session->receiving;
    if (!message) {
        const size_t capacity = length < 256 ? 256 : length;
        message = malloc(sizeof *message + LWS_PRE + capacity);
        if (!message)
            return -1;
        message->next = NULL;
        message->length = 0;
        message->capacity = capacity;
        message->binary = binary;
        session->receiving = message;
    }
    if (message->length + length > message->capacity) {
        size_t capacity = message->capacity * 2;
        if (capacity < message->length + length)
            capacity = message->length + length;
        struct message *grown = realloc(message, sizeof *message + LWS_PRE + capacity);
        if (!grown)
            return -1;
        message = grown;
        message->capacity = capacity;
        session->receiving = message;
    }
    memcpy(message->bytes + LWS_PRE + message->length, data, length);
    message->length += length;
    return 0;
}

static int callbackEcho(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t length)
{
    struct session *session = user;

    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        memset(session, 0, sizeof *session);
        return 0;

    case LWS_CALLBACK_RECEIVE:
        if (append(session, in, length, session->receiving ? 0 : lws_frame_is_binary(wsi)) != 0)
            return -1;
        /* The last piece of the last frame: the message is whole. */
        if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
            struct message *message = session->receiving;
            session->receiving = NULL;
            if (session->tail)
                session->tail->next = message;
            else
                session->head = message;
            session->tail = message;
            lws_callback_on_writable(wsi);
        }
        return 0;

    case LWS_CALLBACK_SERVER_WRITEABLE:
        /* As many queued messages as the socket takes: what it does not
         * take of a write lws keeps and sends before the next writeable
         * callback, and no further write may go out until then. */
        while (session->head) {
            struct message *message = session->head;
            const int written = lws_write(wsi, message->bytes + LWS_PRE, message->length,
                                          message->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
            if (written < (int)message->length)
                return -1;
            session->head = message->next;
            if (!session->head)
                session->tail = NULL;
            free(message);
            if (lws_partial_buffered(wsi))
                break;
        }
        if (session->head)
            lws_callback_on_writable(wsi);
        return 0;

    case LWS_CALLBACK_CLOSED:
        freeMessages(session->receiving);
        freeMessages(session->head);
        memset(session, 0, sizeof *session);
        return 0;

    default:
        /* A client that names no subprotocol gets protocols[0], which then
         * also sees the HTTP side: lws's own default handling does that. */
        return lws_callback_http_dummy(wsi, reason, user, in, length);
    }
}

int main(int argc, char **argv)
{
    int port = -1;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc) {
            char *end = NULL;
            const long value = strtol(argv[++i], &end, 10);
            if (*end || value < 0 || value > 65535) {
                fprintf(stderr, "sluice-lws: --port takes a port number\n");
                return 2;
            }
            port = (int)value;
        } else {
            fprintf(stderr, "usage: sluice-lws --port N\n");
            return 2;
        }
    }
    if (port < 0) {
        fprintf(stderr, "usage: sluice-lws --port N\n");
        return 2;
    }

    static const struct lws_protocols protocols[] = {
            /* rx_buffer_size: a 16 KiB message arrives in at most one
             * piece per frame rather than in 4 KiB ones (lws's default). */
            {"echo", callbackEcho, sizeof(struct session), 64 * 1024, 0, NULL, 0},
            {NULL, NULL, 0, 0, 0, NULL, 0},
    };

    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = port;
    info.iface = "127.0.0.1";
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_DISABLE_IPV6;

    struct lws_context *context = lws_create_context(&info);
    if (!context) {
        fprintf(stderr, "sluice-lws: cannot listen on 127.0.0.1 port %d\n", port);
        return 1;
    }
    struct lws_vhost *vhost = lws_get_vhost_by_name(context, "default");
    printf("PORT %d\n", vhost ? lws_get_vhost_listen_port(vhost) : port);
    fflush(stdout);

    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = onSignal;
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
    while (!interrupted && lws_service(context, 0) >= 0) { }
    lws_context_destroy(context);
    return 0;
}
