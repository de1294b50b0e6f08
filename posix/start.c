/* How an appliance program starts and ends, as a Linux process does: main(argc, argv, envp) on a
 * stack of its own, after its constructors; exit() runs the atexit handlers, flushes stdio and
 * ends the program with its status, which becomes the guest's status.
 *
 * The command line (Linux hands init its arguments the same way): the words after "--" are
 * argv[1...]; argv[0] is the program's name. Before "--", a word KEY=VALUE whose KEY starts with
 * an upper-case letter is an environment variable (moat's own parameters are lower-case: tests=,
 * drivers=, vtd=...; Linux passes every k=v word it does not know as init's environment). */
#include "posix/posix.h"
#include "arch/arch.h"
#include "kernel/boot_info.h"
#include "kernel/vm.h"
#include "lib/log.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG_STACK_SIZE (8u << 20)      /* Linux's default stack limit */
#define MAX_WORDS 64

int main(int argc, char **argv, char **envp);
void __libc_init_array(void);
void __libc_fini_array(void);
extern const char moat_program_name[];  /* written by ./moat's build of the program */
extern char **environ;
extern char __prog_data_start[], __prog_data_end[], __prog_bss_start[], __prog_bss_end[];

static char words[BOOT_CMDLINE_MAX];
static char *argv_words[MAX_WORDS + 2];
static char *env_words[MAX_WORDS + 1];
static int argc_words;
static jmp_buf program_end;
static int program_status;
char *posix_stack_top;

bool moat_is_app_image(void)
{
    return true;
}

/* newlib's __libc_init_array calls _init after the preinit array (crti's job on Linux). */
void _init(void);
void _init(void)
{
}

void _fini(void);
void _fini(void)
{
}

static bool is_env_word(const char *w)
{
    return w[0] >= 'A' && w[0] <= 'Z' && strchr(w, '=');
}

static void split_cmdline(void)
{
    int nenv = 0;
    bool after_dashes = false;
    memcpy(words, boot_info.cmdline, sizeof(words));
    words[sizeof(words) - 1] = 0;
    argv_words[argc_words++] = (char *)moat_program_name;
    for (char *p = words; *p;) {
        while (*p == ' ')
            *p++ = 0;
        if (!*p)
            break;
        char *w = p;
        while (*p && *p != ' ')
            p++;
        if (*p)
            *p++ = 0;
        if (!after_dashes && strcmp(w, "--") == 0)
            after_dashes = true;
        else if (after_dashes && argc_words < MAX_WORDS + 1)
            argv_words[argc_words++] = w;
        else if (!after_dashes && is_env_word(w) && nenv < MAX_WORDS)
            env_words[nenv++] = w;
    }
    argv_words[argc_words] = NULL;
    env_words[nenv] = NULL;
    environ = env_words;
}

/* The memory the program owns besides its mappings: its static data (its objects, this layer and
 * newlib: the linker's .prog.data/.prog.bss) and its stack. The heap and mmap'd memory come
 * from the mmap area through vm_map_anon, which owns them already. */
static void register_program_memory(void *stack, size_t stack_len)
{
    /* TODO(h/boundary): the single call site of vm_prog_region() (kernel/vm.h, issue 20), once
     * it lands: one call per range below. */
    (void)__prog_data_start, (void)__prog_data_end, (void)__prog_bss_start, (void)__prog_bss_end;
    (void)stack, (void)stack_len;
}

static void program_start(void *unused)
{
    (void)unused;
    __libc_init_array();
    atexit(__libc_fini_array);
    exit(main(argc_words, argv_words, environ));
}

int moat_image_main(void)
{
    split_cmdline();
    void *stack;
    int err = vm_map_anon(PROG_STACK_SIZE, &stack);
    if (err) {
        kprintf("posix: no memory for the program's stack (%d)\n", err);
        return 1;
    }
    register_program_memory(stack, PROG_STACK_SIZE);
    posix_stack_top = (char *)stack + PROG_STACK_SIZE;
    if (setjmp(program_end) == 0)
        arch_call_on_stack(program_start, NULL, posix_stack_top);
    /* Back on the runtime's stack: the program ended (exit, _exit, or a fatal signal). */
    return program_status;
}

void posix_program_end(int status)
{
    program_status = status;
    longjmp(program_end, 1);
}
