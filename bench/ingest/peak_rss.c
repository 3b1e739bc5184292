/*
 * peak_rss.c - runs one command and writes down its peak resident set size.
 *
 * usage: peak-rss OUTFILE COMMAND [ARG...]
 *
 * Runs COMMAND, waits for it with wait4(2) and writes its ru_maxrss (KiB,
 * the kernel's own high-water mark, so a peak just before exit is not
 * missed the way polling /proc/PID/status can miss it) as one line to
 * OUTFILE. Exits with COMMAND's exit code (128 + signal when a signal
 * ended it). SIGTERM, SIGINT and SIGHUP are passed on to COMMAND, and
 * COMMAND gets SIGTERM should peak-rss itself die first.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t child = 0;

static void pass_on(int sig)
{
    if (child > 0)
        kill((pid_t)child, sig);
}

int main(int argc, char **argv)
{
    if (argc < 3 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        fprintf(argc < 3 ? stderr : stdout,
                "usage: peak-rss OUTFILE COMMAND [ARG...]\n");
        return argc < 3 ? 2 : 0;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = pass_on;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "peak-rss: fork: %s\n", strerror(errno));
        return 127;
    }
    if (pid == 0) {
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        execvp(argv[2], argv + 2);
        fprintf(stderr, "peak-rss: %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    child = pid;

    int status = 0;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "peak-rss: wait4: %s\n", strerror(errno));
            return 127;
        }
    }
    FILE *out = fopen(argv[1], "w");
    if (!out || fprintf(out, "%ld\n", ru.ru_maxrss) < 0 || fclose(out) != 0) {
        fprintf(stderr, "peak-rss: %s: %s\n", argv[1], strerror(errno));
        return 127;
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 127;
}
