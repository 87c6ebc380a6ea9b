/*
 * interrupt.c — the stop flag SIGINT and SIGTERM set (see interrupt.h).
 */
#include "util/interrupt.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t received;

static void on_signal(int signo)
{
    if (received) /* the second: the user means it */
        _exit(128 + signo);
    received = signo;
    static const char line[] = "\ncoffer: stopping (press Ctrl-C again to quit at once)\n";
    ssize_t ignored = write(STDERR_FILENO, line, sizeof line - 1);
    (void)ignored;
}

void interrupt_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: blocking calls return EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int interrupt_signal(void)
{
    return received;
}

volatile sig_atomic_t *interrupt_flag(void)
{
    return &received;
}

int interrupt_check(struct error *err)
{
    int signo = received;
    if (!signo)
        return 0;
    return error_setk(err, ERR_INTERRUPTED, "interrupted by %s", signo == SIGINT ? "SIGINT (Ctrl-C)" : "SIGTERM");
}

int interrupt_exit_code(void)
{
    return received ? 128 + received : 1;
}
