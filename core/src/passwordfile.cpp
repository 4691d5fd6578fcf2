// placeholder: a helper is writing this file
