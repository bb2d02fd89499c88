// gnuplot-iostream behind a C interface. The library's own process handling is not used (it gives no exit status
// and no standard error): the host starts gnuplot and hands over the pipe. What the library adds here is the
// data path: columns walked in lockstep into gnuplot's binary record format, inline or as a file.
#include "gnuplot_io.h"

#include <gnuplot-iostream.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <unistd.h>
#include <vector>

struct gpio_session {
    Gnuplot plot;
    explicit gpio_session(FILE *file) : plot(file) {}
};

namespace {

// A borrowed column, seen by gnuplot-iostream as an STL container (value_type, const_iterator, begin, end).
template <typename T>
struct Column {
    typedef T value_type;
    typedef const T *const_iterator;
    const T *first;
    size_t count;
    const_iterator begin() const { return first; }
    const_iterator end() const { return first + count; }
};

void set_error(char *error, size_t capacity, const std::string &message) {
    if (error == nullptr || capacity == 0) return;
    std::snprintf(error, capacity, "%s", message.c_str());
}

void copy_out(char *out, size_t capacity, const std::string &text) {
    if (text.size() + 1 > capacity) throw std::length_error("output buffer too small for \"" + text + "\"");
    std::memcpy(out, text.c_str(), text.size() + 1);
}

// Runs `body` with every C++ exception turned into an error; a write the stream refused is an error too.
template <typename Body>
int guarded(gpio_session *session, char *error, size_t capacity, Body body) noexcept {
    try {
        if (session == nullptr) throw std::invalid_argument("no gnuplot session");
        session->plot.clear();
        session->plot.exceptions(std::ios::badbit | std::ios::failbit);
        body();
        session->plot.exceptions(std::ios::goodbit);
        return 0;
    } catch (const std::exception &e) {
        int saved = errno;
        if (session != nullptr) session->plot.exceptions(std::ios::goodbit);
        std::string message = e.what();
        if (saved == EPIPE) message = "gnuplot stopped reading its input (broken pipe)";
        set_error(error, capacity, message);
    } catch (...) {
        if (session != nullptr) session->plot.exceptions(std::ios::goodbit);
        set_error(error, capacity, "unknown C++ exception");
    }
    return -1;
}

template <typename T>
std::vector<Column<T>> columns(const gpio_table *table) {
    if (table == nullptr || table->columns == nullptr || table->column_count == 0)
        throw std::invalid_argument("a table needs at least one column");
    if (table->rows == 0) throw std::invalid_argument("a table needs at least one row");
    std::vector<Column<T>> out;
    out.reserve(table->column_count);
    for (size_t c = 0; c < table->column_count; c++) {
        if (table->columns[c] == nullptr) throw std::invalid_argument("a column has no data");
        out.push_back(Column<T>{static_cast<const T *>(table->columns[c]), table->rows});
    }
    return out;
}

// Calls `body` with the table's columns typed by its element type.
template <typename Body>
void with_columns(const gpio_table *table, Body body) {
    if (table == nullptr) throw std::invalid_argument("no table");
    switch (table->element) {
    case GPIO_FLOAT32: body(columns<float>(table)); return;
    case GPIO_FLOAT64: body(columns<double>(table)); return;
    }
    throw std::invalid_argument("unknown element type");
}

}  // namespace

extern "C" gpio_session *gpio_open(int fd, char *error, size_t error_capacity) {
    FILE *file = fdopen(fd, "w");
    if (file == nullptr) {
        set_error(error, error_capacity, std::string("cannot open the pipe to gnuplot: ") + std::strerror(errno));
        close(fd);
        return nullptr;
    }
    try {
        return new gpio_session(file);
    } catch (const std::exception &e) {
        set_error(error, error_capacity, e.what());
    } catch (...) {
        set_error(error, error_capacity, "unknown C++ exception");
    }
    std::fclose(file);
    return nullptr;
}

extern "C" int gpio_send_text(gpio_session *session, const char *text, size_t length, char *error, size_t error_capacity) {
    return guarded(session, error, error_capacity, [&] {
        session->plot.write(text, static_cast<std::streamsize>(length));
        session->plot.flush();
    });
}

extern "C" int gpio_binary_format(gpio_session *session, const gpio_table *table, char *out, size_t out_capacity,
                                  char *error, size_t error_capacity) {
    return guarded(session, error, error_capacity, [&] {
        with_columns(table, [&](const auto &cols) { copy_out(out, out_capacity, session->plot.binFmt1d_colmajor(cols, "record")); });
    });
}

extern "C" int gpio_send_binary(gpio_session *session, const gpio_table *table, char *error, size_t error_capacity) {
    return guarded(session, error, error_capacity, [&] {
        with_columns(table, [&](const auto &cols) { session->plot.sendBinary1d_colmajor(cols); });
        session->plot.flush();
    });
}

extern "C" int gpio_write_binary_file(gpio_session *session, const gpio_table *table, const char *path,
                                      char *reference, size_t reference_capacity, char *error, size_t error_capacity) {
    return guarded(session, error, error_capacity, [&] {
        if (path == nullptr || *path == '\0') throw std::invalid_argument("no file name for the data");
        if (std::strchr(path, '\'') != nullptr) throw std::invalid_argument(std::string("a data file name cannot hold a single quote: ") + path);
        with_columns(table, [&](const auto &cols) {
            std::string ref = session->plot.binFile1d_colmajor(cols, "record", path);
            // The library opens the file without checking: make sure all of it arrived.
            FILE *check = std::fopen(path, "rb");
            if (check == nullptr) throw std::runtime_error(std::string("cannot write ") + path);
            std::fseek(check, 0, SEEK_END);
            long size = std::ftell(check);
            std::fclose(check);
            size_t element = table->element == GPIO_FLOAT32 ? sizeof(float) : sizeof(double);
            if (size < 0 || static_cast<size_t>(size) != table->rows * table->column_count * element)
                throw std::runtime_error(std::string("incomplete data file ") + path + " (disk full?)");
            copy_out(reference, reference_capacity, ref);
        });
    });
}

extern "C" int gpio_close(gpio_session *session, char *error, size_t error_capacity) {
    if (session == nullptr) return 0;
    int status = guarded(session, error, error_capacity, [&] { session->plot.flush(); });
    // The destructor flushes again and closes the file: it must never meet an exception mask.
    session->plot.exceptions(std::ios::goodbit);
    session->plot.clear();
    try {
        delete session;
    } catch (...) {
        if (status == 0) set_error(error, error_capacity, "closing the pipe to gnuplot failed");
        status = -1;
    }
    return status;
}
