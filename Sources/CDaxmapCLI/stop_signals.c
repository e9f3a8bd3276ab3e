// The CLI's SIGINT/SIGTERM handling in C, so that no Swift runs in a signal
// handler: the handler writes one byte to a pipe, and a plain thread does the rest.
#include "CDaxmapCLI.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static int stop_pipe[2] = {-1, -1};
static daxmap_cli_stop_fn stop_callback;

static void on_signal(int sig) {
    int saved = errno;
    unsigned char byte = (unsigned char)sig;
    // A full pipe means a stop is already pending: losing this byte loses nothing.
    (void)!write(stop_pipe[1], &byte, 1);
    errno = saved;
}

static void *stop_thread(void *unused) {
    (void)unused;
    unsigned char byte = 0;
    for (;;) {
        ssize_t n = read(stop_pipe[0], &byte, 1);
        if (n == 1) break;
        if (n < 0 && errno == EINTR) continue;
        return NULL; // the pipe is gone: nobody can ask us to stop any more
    }
    int status = stop_callback((int)byte);
    fflush(NULL);
    _exit(status);
}

int daxmap_cli_stop_install(daxmap_cli_stop_fn on_stop) {
    if (stop_pipe[0] >= 0) { stop_callback = on_stop; return 0; } // installed once a process
    if (pipe(stop_pipe) != 0) return -1;
    stop_callback = on_stop;
    pthread_t thread;
    int rc = pthread_create(&thread, NULL, stop_thread, NULL);
    if (rc != 0) {
        close(stop_pipe[0]); close(stop_pipe[1]);
        stop_pipe[0] = stop_pipe[1] = -1;
        errno = rc;
        return -1;
    }
    pthread_detach(thread);
    struct sigaction action = {0};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    if (sigaction(SIGINT, &action, NULL) != 0 || sigaction(SIGTERM, &action, NULL) != 0) return -1;
    return 0;
}
