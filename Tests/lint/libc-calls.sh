#!/usr/bin/env bash
# Fails when a library or CLI source outside Sources/DaxMap/System calls libc directly.
#
# Every libc call of DaxMap, DaxLog, their testing targets and the daxmap CLI goes through the
# syscall layer (`Syscalls`, Sources/DaxMap/System/Syscalls*.swift): EINTR and
# errno are handled there, results are typed, and an ignored result is ignored
# there with its reason. This keeps it so. Run from the repository root (make test
# does); prints each offending line and exits 1, else prints a one-line summary.
#
# What counts as a direct call, in code (comments and string literals are
# skipped; code inside a string's \( ) is checked):
#   1. `Glibc.<name>(` or `Glibc.errno`: libc through its module name, whatever the name.
#   2. `<name>(` for a libc function in UNAMBIGUOUS below, unless preceded by `.`
#      (a member: `Syscalls.unlink(`) or `func ` (a declaration).
#   3. `<name>(` for a libc function in AMBIGUOUS below (names daxmap's own types
#      use too: `DaxMapping.read`, `RetireSocket.send`), unless the file itself, or
#      the file of the type it extends (`DaxMapping.swift` for `DaxMapping+X.swift`),
#      declares `func <name>(`: there the bare name is the type's own method.
# Allowed (the allow-list):
#   - Sources/DaxMap/System/**: the syscall layer itself, and the threads and
#     conditions (pthread_*) that are system plumbing of the same kind.
#   - Sources/daxmap/SignalStop.swift: the CLI's signal self-pipe (see below).
# Not checked: a bare `errno` (too many locals of that name; read it through
# `Syscalls.lastError` or a `Result`), and types and constants (`pollfd`, `O_RDONLY`).
set -euo pipefail
cd "$(dirname "$0")/../.."

UNAMBIGUOUS='access accept4 atexit chdir chmod chown clock_gettime clock_nanosleep closedir dup dup2 dup3
epoll_create1 epoll_ctl epoll_wait eventfd execve _exit fchmod fchown fcntl fdatasync flock fork fstat fstatat
fsync ftruncate getenv geteuid getgid getpid getppid getsockname getsockopt gettid getuid ioctl kill lseek
lstat madvise memfd_create mkdir mkdtemp mkstemp mlock mmap mount mprotect msync munlock munmap nanosleep
opendir openat pipe pipe2 posix_fallocate ppoll pread preadv prctl pthread_create pthread_kill pthread_sigmask
pwrite pwritev readdir readlink realpath recvfrom recvmsg rename renameat rmdir sched_yield sendmsg sendto
setenv setsockopt sigaction sigaddset sigemptyset sigfillset signalfd sigprocmask socket socketpair strerror
strlen symlink sysconf syscall timerfd_create truncate umask umount umount2 unlink unlinkat unsetenv usleep waitpid'
AMBIGUOUS='open close read write send recv connect accept bind listen poll stat'

roots=()
for d in Sources/DaxMap Sources/DaxLog Sources/DaxMapTesting Sources/DaxLogTesting Sources/daxmap; do
    [ -d "$d" ] && roots+=("$d")
done

# Sources/daxmap/SignalStop.swift: the CLI's SIGINT/SIGTERM self-pipe and its reader
# thread (sigaction, pipe, pthread_create, _exit), system plumbing of the kind System/ holds.
files=$(find "${roots[@]}" -name '*.swift' -not -path 'Sources/DaxMap/System/*' \
    -not -path 'Sources/daxmap/SignalStop.swift' | sort)
# shellcheck disable=SC2086
UNAMBIGUOUS="$UNAMBIGUOUS" AMBIGUOUS="$AMBIGUOUS" perl -e '
use strict; use warnings;
my %plain = map { $_ => 1 } split /\s+/, $ENV{UNAMBIGUOUS};
my %shadowable = map { $_ => 1 } split /\s+/, $ENV{AMBIGUOUS};

# The code of a Swift file, with comments and string literals blanked (newlines kept).
sub code_of {
    my ($text) = @_;
    my $out = ""; my $i = 0; my $n = length $text;
    my @stack = ("code");          # "code", "string", or "interp:<depth>"
    while ($i < $n) {
        my $c = substr($text, $i, 1); my $two = substr($text, $i, 2);
        my $top = $stack[-1];
        if ($top eq "string") {
            if ($two eq "\\(") { push @stack, "interp:0"; $out .= " "; $i += 2; next }
            if ($c eq "\\") { $i += 2; next }
            if ($c eq "\"") { pop @stack; $out .= "\""; $i++; next }
            $out .= "\n" if $c eq "\n"; $i++; next;
        }
        if ($two eq "//") { my $e = index($text, "\n", $i); $e = $n if $e < 0; $i = $e; next }
        if ($two eq "/*") { my $e = index($text, "*/", $i); $e = $n - 2 if $e < 0;
            $out .= "\n" x (() = substr($text, $i, $e - $i) =~ /\n/g); $i = $e + 2; next }
        if ($c eq "\"") { push @stack, "string"; $out .= "\""; $i++; next }
        if ($top =~ /^interp:(\d+)$/) {
            my $depth = $1;
            if ($c eq "(") { $stack[-1] = "interp:" . ($depth + 1) }
            elsif ($c eq ")") { if ($depth == 0) { pop @stack; $i++; next } $stack[-1] = "interp:" . ($depth - 1) }
        }
        $out .= $c; $i++;
    }
    return $out;
}

sub declared { my ($code) = @_; my %d; $d{$1} = 1 while $code =~ /\bfunc\s+(\w+)\s*\(/g; return %d }

my @files = split /\n/, join("", <STDIN>);
my (%code, %decl);
for my $f (@files) {
    open my $h, "<", $f or die "$f: $!"; local $/; my $t = <$h>; close $h;
    $code{$f} = code_of($t); $decl{$f} = { declared($code{$f}) };
}
my %by_name; for my $f (@files) { (my $b = $f) =~ s{.*/}{}; push @{$by_name{$b}}, $f }

my $bad = 0;
for my $f (@files) {
    (my $base = $f) =~ s{.*/}{};
    my %own = %{$decl{$f}};
    if ($base =~ /^([^+]+)\+/) { for my $g (@{$by_name{"$1.swift"} // []}) { %own = (%own, %{$decl{$g}}) } }
    my $line = 0;
    for my $l (split /\n/, $code{$f}, -1) {
        $line++;
        my @why;
        push @why, "$1 through the Glibc module" while $l =~ /\bGlibc\s*\.\s*([a-z_]\w*\s*\(|errno\b)/g;
        while ($l =~ /(?<![\w.])(\w+)\s*\(/g) {
            my $name = $1; my $before = substr($l, 0, $-[0]);
            next if $before =~ /\bfunc\s*$/;
            if ($plain{$name}) { push @why, "$name(" }
            elsif ($shadowable{$name} && !$own{$name}) { push @why, "$name( (no func $name here: the libc one)" }
        }
        if (@why) { $bad++; print "$f:$line: direct libc call: ", join(", ", @why), "\n" }
    }
}
if ($bad) { print "libc-calls: $bad line(s) call libc directly; go through Syscalls (Sources/DaxMap/System)\n"; exit 1 }
print "libc-calls: ", scalar(@files), " files, no direct libc call outside Sources/DaxMap/System\n";
' <<< "$files"
