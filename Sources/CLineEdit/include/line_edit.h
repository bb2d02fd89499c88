// A thin layer over libedit's readline emulation: Swift cannot hand a capturing closure to
// rl_attempted_completion_function, so completion goes through a C trampoline and a candidate list
// that Swift fills for each request. The completer gets back the context pointer given to le_init (the
// session), so no global is needed on the Swift side.
#ifndef ALVLM_LINE_EDIT_H
#define ALVLM_LINE_EDIT_H

typedef void (*le_completer)(void *context, const char *line, int start, int end, const char *word);

void le_init(const char *name, le_completer completer, void *context);
/// Returns a malloc'd line (without the newline) or NULL at end of input.
char *le_readline(const char *prompt);
void le_add_history(const char *line);
int le_read_history(const char *path);
/// Keeps the last `limit` entries and writes the file with libedit's cookie (avoids history_truncate_file).
int le_write_history(const char *path, int limit);
/// Called by the completer: candidates for the current request.
void le_clear_candidates(void);
void le_add_candidate(const char *candidate);
/// Discards the current line (Ctrl-C at the prompt).
void le_clear_line(void);

#endif
