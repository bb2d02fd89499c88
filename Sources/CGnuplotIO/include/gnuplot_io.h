// A small C interface to gnuplot-iostream (Debian's libgnuplot-iostream-dev): a session on a pipe to a gnuplot
// process the caller started, script text, and numeric columns in gnuplot's binary formats, inline or in a file.
// Every function catches every C++ exception and reports it as an error; none can abort the process.
// Functions returning int give 0 on success and -1 on failure, with a NUL-terminated message in `error`
// (truncated to `error_capacity` bytes).
#ifndef ALVLM_GNUPLOT_IO_H
#define ALVLM_GNUPLOT_IO_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gpio_session gpio_session;

typedef enum { GPIO_FLOAT32 = 0, GPIO_FLOAT64 = 1 } gpio_element;

/// Borrowed columns of equal length: `columns[c]` points at `rows` values of `element`.
typedef struct {
    const void *const *columns;
    size_t column_count;
    size_t rows;
    gpio_element element;
} gpio_table;

/// A session writing to `fd` (the write end of gnuplot's standard input). It owns `fd` from then on, also on
/// failure. The caller keeps the process: its exit status and standard error stay the caller's.
gpio_session *gpio_open(int fd, char *error, size_t error_capacity);

/// Script text, sent as is.
int gpio_send_text(gpio_session *session, const char *text, size_t length, char *error, size_t error_capacity);

/// The fragment that goes after `'-' binary` in a plot command for this table:
/// ` format='%double%double' record=(N) `. Needs no session data; the session only formats.
int gpio_binary_format(gpio_session *session, const gpio_table *table, char *out, size_t out_capacity,
                       char *error, size_t error_capacity);

/// The table's rows as raw native-endian values, for the `'-' binary` reference sent before.
int gpio_send_binary(gpio_session *session, const gpio_table *table, char *error, size_t error_capacity);

/// Writes the table to `path` in binary and gives the whole data reference for a plot command
/// (` 'path' binary format='...' record=(N) `). The caller removes the file once gnuplot has exited.
/// `path` must not contain a single quote.
int gpio_write_binary_file(gpio_session *session, const gpio_table *table, const char *path,
                           char *reference, size_t reference_capacity, char *error, size_t error_capacity);

/// Flushes and closes the stream (gnuplot then sees the end of its input) and frees the session, also on failure.
int gpio_close(gpio_session *session, char *error, size_t error_capacity);

#ifdef __cplusplus
}
#endif

#endif
