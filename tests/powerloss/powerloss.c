/*
 * A power-loss recorder for WASP's crash tests (LD_PRELOAD).
 *
 * It wraps fsync, fdatasync, rename and renameat: after each one that
 * succeeds, it appends one line to the file named by WASP_POWERLOSS_LOG —
 *   sync <TAB> <absolute path> <TAB> <size of the file at that moment>
 *   rename <TAB> <absolute old path> <TAB> <absolute new path>
 * — before returning to the caller, so that every sync a caller relied on
 * (an acknowledgement sent after it) is in the log. The test kills the
 * process and then makes the files what a power loss would leave: each
 * file cut back to its size at its last sync (a file never synced is gone),
 * renames kept. It does not model reordered or torn sectors, nor writes
 * inside an already synced length: a cheap model of the common case, "what
 * was not synced is lost".
 *
 * Built by tests/all/power_loss.rs with `cc -shared -fPIC`.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void append(const char *line, size_t len) {
    const char *log = getenv("WASP_POWERLOSS_LOG");
    if (log == NULL) return;
    pthread_mutex_lock(&lock);
    int out = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (out >= 0) {
        ssize_t ignored = write(out, line, len);
        (void)ignored;
        close(out);
    }
    pthread_mutex_unlock(&lock);
}

static void note_sync(int fd) {
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n < 0) return;
    path[n] = 0;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return;
    char line[PATH_MAX + 64];
    int len = snprintf(line, sizeof line, "sync\t%s\t%lld\n", path, (long long)st.st_size);
    if (len > 0 && (size_t)len < sizeof line) append(line, (size_t)len);
}

/* `name` relative to the directory `dirfd` (AT_FDCWD: the working directory). */
static void absolute(int dirfd, const char *name, char *out, size_t size) {
    if (name[0] == '/') {
        snprintf(out, size, "%s", name);
        return;
    }
    char dir[PATH_MAX];
    if (dirfd == AT_FDCWD) {
        if (getcwd(dir, sizeof dir) == NULL) dir[0] = 0;
    } else {
        char link[64];
        snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
        ssize_t n = readlink(link, dir, sizeof dir - 1);
        dir[n < 0 ? 0 : n] = 0;
    }
    snprintf(out, size, "%s/%s", dir, name);
}

static void note_rename(int olddir, const char *old, int newdir, const char *new) {
    char a[PATH_MAX], b[PATH_MAX], line[2 * PATH_MAX + 16];
    absolute(olddir, old, a, sizeof a);
    absolute(newdir, new, b, sizeof b);
    int len = snprintf(line, sizeof line, "rename\t%s\t%s\n", a, b);
    if (len > 0 && (size_t)len < sizeof line) append(line, (size_t)len);
}

int fsync(int fd) {
    static int (*real)(int);
    if (real == NULL) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    int r = real(fd);
    if (r == 0) note_sync(fd);
    return r;
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (real == NULL) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    int r = real(fd);
    if (r == 0) note_sync(fd);
    return r;
}

int rename(const char *old, const char *new) {
    static int (*real)(const char *, const char *);
    if (real == NULL) real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
    int r = real(old, new);
    if (r == 0) note_rename(AT_FDCWD, old, AT_FDCWD, new);
    return r;
}

int renameat(int olddir, const char *old, int newdir, const char *new) {
    static int (*real)(int, const char *, int, const char *);
    if (real == NULL) real = (int (*)(int, const char *, int, const char *))dlsym(RTLD_NEXT, "renameat");
    int r = real(olddir, old, newdir, new);
    if (r == 0) note_rename(olddir, old, newdir, new);
    return r;
}
