/*
 * The application benchmark 3 reloads, as bare as an application can be: it writes its pid to PID_FILE, prints
 * "ready <ticks per second>", then waits for signals with sigwaitinfo() and prints the CLOCK_MONOTONIC time (in
 * nanoseconds, the ticks of .NET's Stopwatch on Linux) at which each SIGUSR1 arrived; SIGTERM ends it.
 *
 * Not .NET: a .NET program runs a SIGUSR1 handler (PosixSignalRegistration) on a thread-pool thread, after the
 * runtime's signal thread has read the signal from its pipe: two thread wake-ups of the application counted as
 * the helper's latency. bench-reference signals is kept for machines without a C compiler.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: bench-signal-stamp PID_FILE\n");
        return 2;
    }

    /* Blocked before anything else, so the signals queue for sigwaitinfo() instead of their default action. */
    sigset_t wanted;
    sigemptyset(&wanted);
    sigaddset(&wanted, SIGUSR1);
    sigaddset(&wanted, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &wanted, NULL) != 0) {
        perror("sigprocmask");
        return 1;
    }

    /* The pid file appears complete or not at all. */
    char temp[4096];
    if (snprintf(temp, sizeof temp, "%s.tmp", argv[1]) >= (int)sizeof temp) {
        fprintf(stderr, "the pid file path is too long\n");
        return 1;
    }
    FILE *pid = fopen(temp, "w");
    if (pid == NULL || fprintf(pid, "%d", (int)getpid()) < 0 || fclose(pid) != 0 || rename(temp, argv[1]) != 0) {
        perror(argv[1]);
        return 1;
    }

    printf("ready 1000000000\n");
    fflush(stdout);
    for (;;) {
        siginfo_t info;
        int signal = sigwaitinfo(&wanted, &info);
        if (signal == SIGTERM) {
            return 0;
        }
        if (signal == SIGUSR1) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            printf("%lld\n", (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
            fflush(stdout);
        }
    }
}
