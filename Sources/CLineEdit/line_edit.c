#include "line_edit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <editline/readline.h>
#include <langinfo.h>
#include <locale.h>

static le_completer swift_completer = NULL;
static void *swift_context = NULL;
static char **candidates = NULL;
static int candidate_count = 0, candidate_capacity = 0;

void le_clear_candidates(void) {
    for (int i = 0; i < candidate_count; i++) free(candidates[i]);
    candidate_count = 0;
}

void le_add_candidate(const char *candidate) {
    if (candidate_count == candidate_capacity) {
        candidate_capacity = candidate_capacity ? 2 * candidate_capacity : 32;
        candidates = realloc(candidates, sizeof(char *) * candidate_capacity);
    }
    candidates[candidate_count++] = strdup(candidate);
}

static char *generator(const char *text, int state) {
    static int index;
    (void)text;
    if (state == 0) index = 0;
    if (index < candidate_count) return strdup(candidates[index++]);
    return NULL;
}

static char **complete(const char *text, int start, int end) {
    rl_attempted_completion_over = 1;
    rl_completion_append_character = '\0';   // `pool` then `.`: no space in between
    if (!swift_completer) return NULL;
    le_clear_candidates();
    swift_completer(swift_context, rl_line_buffer, start, end, text);
    if (candidate_count == 0) return NULL;
    return rl_completion_matches(text, generator);
}

void le_init(const char *name, le_completer completer, void *context) {
    // libedit reads multibyte characters by the C library's locale, which starts as "C" (ASCII): without this every
    // non-ASCII character typed is dropped. The language is UTF-8, so fall back to C.UTF-8 when the user's locale
    // is not UTF-8 (or not set).
    if (!setlocale(LC_CTYPE, "") || strcmp(nl_langinfo(CODESET), "UTF-8") != 0) setlocale(LC_CTYPE, "C.UTF-8");
    rl_readline_name = (char *)name;
    swift_completer = completer;
    swift_context = context;
    rl_attempted_completion_function = complete;
    rl_basic_word_break_characters = " \t\n\"'(),[]{}=+-*/<>:.";
    using_history();
}

char *le_readline(const char *prompt) { return readline(prompt); }
void le_add_history(const char *line) { add_history(line); }
int le_read_history(const char *path) { return read_history(path); }
int le_write_history(const char *path, int limit) {
    stifle_history(limit);
    return write_history(path);
}
void le_clear_line(void) {
    rl_replace_line("", 0);
}
