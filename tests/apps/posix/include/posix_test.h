/* Shared by the files of the process-conventions test program (it is built from a
 * directory, with an include path and a define from --app-cflags). */
#ifndef POSIX_TEST_H
#define POSIX_TEST_H

extern int failures;
void check(const char *what, int ok);
void fork_checks(void);
void harness_pattern_checks(void);
void mmap_checks(void);
void signal_checks(void);

#endif
