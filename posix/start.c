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
#include "kernel/uaccess.h"
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
extern char __prog_rodata_start[], __prog_rodata_end[], __prog_data_start[], __prog_data_end[];

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

/* The memory the program owns besides its mappings (kernel/uaccess's table): its static data
 * (its objects, this layer and newlib, in the linker's .prog.* sections) and its stack, which
 * the kernel makes. The heap and mmap'd memory register themselves. */
static int declare_static(const char *start, const char *end, int prot)
{
    return end > start ? vm_prog_region(start, (size_t)(end - start), prot, VM_KIND_STATIC) : 0;
}

static int declare_program_memory(void **stack)
{
    int err = vm_map_stack(PROG_STACK_SIZE, stack);
    if (!err)
        err = declare_static(__prog_data_start, __prog_data_end, VM_PROT_READ | VM_PROT_WRITE);
    if (!err)
        err = declare_static(__prog_rodata_start, __prog_rodata_end, VM_PROT_READ);
    return err;
}

static int program_start(void)
{
    __libc_init_array();
    atexit(__libc_fini_array);
    exit(main(argc_words, argv_words, environ));
}

/* The runtime's hook once it is ready: from here on every pointer the program hands the face is
 * checked against the program's memory (strict), until the program has ended. */
int moat_image_main(void)
{
    split_cmdline();
    void *stack;
    int err = declare_program_memory(&stack);
    if (err) {
        kprintf("posix: cannot set up the program's memory (%d)\n", err);
        return 1;
    }
    posix_stack_top = (char *)stack + PROG_STACK_SIZE;
    vm_prog_strict(true);
    if (setjmp(program_end) == 0)
        arch_call_on_stack(program_start, posix_stack_top);
    /* Back on the runtime's stack: the program ended (exit, _exit, or a fatal signal). */
    vm_prog_strict(false);
    return program_status;
}

void posix_program_end(int status)
{
    program_status = status;
    longjmp(program_end, 1);
}
