#!/usr/bin/env perl
# run.pl: run a command (or an array of jobs) on the local machine, with the
# same interface as Kaldi's queue.pl / slurm.pl.
#
# Usage: run.pl [options] [JOB=1:N] <log-file> <command> [<args>...]
#   e.g. run.pl JOB=1:4 exp/log/foo.JOB.log foo --part JOB data/split4/JOB
#
# With JOB=a:b (any variable name may be used instead of JOB), jobs a..b run
# in parallel; every occurrence of the variable name in the log file name and
# in the command is replaced by the job index.  JOB=a runs the single job a.
# Each job runs under "bash -c" with pipefail set and stdin from /dev/null;
# its stdout and stderr go to its log file (the directory is created).  The
# log file starts with "# <command>" and "# Started at <date>" and ends with
# "# Accounting: time=<seconds> threads=1" and "# Ended (code <rc>) at <date>".
#
# Arguments that contain whitespace (or are empty) are single-quoted when the
# command line is assembled; other arguments, such as a "|" escaped in the
# calling shell, are passed to bash as they are.
#
# Options:
#   --max-jobs-run K   run at most K jobs at the same time (default: all)
#   --gpu N, --mem X, --num-threads N, --time T, --config F
#                      accepted for compatibility with the cluster runners
#                      and ignored
# Exit status: 0 if every job succeeded; otherwise 1, after printing
# "run.pl: <k> / <N> failed, log is in <log>" to stderr, and the last line the (first)
# failed job wrote, prefixed with its log file.
#
# No job outlives the run that started it. The jobs stay in the caller's process group,
# so a signal to that group (a SIGKILL of the whole run, a terminal's SIGHUP or Ctrl-C)
# reaches every job and everything the jobs started. A SIGINT, SIGTERM or SIGHUP sent to
# run.pl alone is passed on to every process of its running jobs, children included; under
# nohup, SIGHUP stays ignored by run.pl and its jobs.

use strict;
use warnings;
use File::Basename qw(dirname);
use File::Path qw(make_path);
use POSIX qw(strftime);

my $prog = "run.pl";
my $usage = "Usage: $prog [options] [JOB=1:N] <log-file> <command> [<args>...]\n"
  . "Options: --max-jobs-run K  (--gpu, --mem, --num-threads, --time, --config are ignored)\n";

sub fail { print STDERR "$prog: $_[0]\n"; exit 1; }

my $max_jobs_run;
my ($jobname, $jobstart, $jobend);
my %ignored = map { $_ => 1 } qw(gpu mem num-threads time config);

while (@ARGV) {
  my $arg = $ARGV[0];
  if ($arg =~ m/^--([A-Za-z][\w-]*)(?:=(.*))?$/) {
    shift @ARGV;
    my $name = $1;
    $name =~ s/_/-/g;
    my $value = $2;
    if (!defined $value) {
      @ARGV or fail("option --$name requires a value");
      $value = shift @ARGV;
    }
    if ($name eq "max-jobs-run") {
      $value =~ m/^[1-9]\d*$/ or fail("--max-jobs-run expects a positive integer, got '$value'");
      $max_jobs_run = $value;
    } elsif (!$ignored{$name}) {
      fail("unknown option --$name");
    }
  } elsif ($arg =~ m/^([A-Za-z_]\w*)=(\d+)(?::(\d+))?$/) {
    shift @ARGV;
    defined $jobname and fail("more than one job range given ($jobname=... and $arg)");
    ($jobname, $jobstart, $jobend) = ($1, $2, defined $3 ? $3 : $2);
    $jobstart <= $jobend or fail("invalid job range $arg (start > end)");
  } else {
    last;
  }
}

@ARGV >= 2 or do { print STDERR $usage; exit 1; };

my $logfile = shift @ARGV;
my @parts;
foreach my $x (@ARGV) {
  if ($x =~ m/^\S+$/) {
    push @parts, $x;
  } else {
    (my $q = $x) =~ s/'/'\\''/g;
    push @parts, "'$q'";
  }
}
my $cmd = join(" ", @parts);

my @jobs = defined $jobname ? ($jobstart .. $jobend) : (undef);
if (@jobs > 1 && index($logfile, $jobname) < 0) {
  fail("$jobname=$jobstart:$jobend runs several jobs, but the log file '$logfile' "
       . "does not contain $jobname, so they would all write to one log");
}

sub subst {
  my ($s, $id) = @_;
  $s =~ s/\Q$jobname\E/$id/g if defined $id;
  return $s;
}

sub now { return strftime("%a %b %e %H:%M:%S %Z %Y", localtime()); }

# Runs one job in the current (forked) process and exits with its status.
sub run_job {
  my ($id) = @_;
  my $log = subst($logfile, $id);
  my $c = subst($cmd, $id);
  my $dir = dirname($log);
  eval { make_path($dir) unless -d $dir; 1 } or do {
    print STDERR "$prog: cannot create log directory $dir: $@";
    exit 1;
  };
  open(my $fh, ">", $log) or do { print STDERR "$prog: cannot write log file $log: $!\n"; exit 1; };
  print $fh "# $c\n# Started at " . now() . "\n";
  close($fh);
  my $t0 = time();
  my $pid = fork();
  defined $pid or do { print STDERR "$prog: fork failed: $!\n"; exit 1; };
  if ($pid == 0) {
    open(STDIN, "<", "/dev/null");
    open(STDOUT, ">>", $log) or exit 127;
    open(STDERR, ">&", \*STDOUT) or exit 127;
    exec("bash", "-c", "set -o pipefail\n$c") or exit 127;
  }
  waitpid($pid, 0);
  my $status = $?;
  my $rc = ($status & 127) ? 128 + ($status & 127) : ($status >> 8);
  my $elapsed = time() - $t0;
  open($fh, ">>", $log) or do { print STDERR "$prog: cannot append to log file $log: $!\n"; exit 1; };
  print $fh "# Accounting: time=$elapsed threads=1\n# Ended (code $rc) at " . now() . "\n";
  close($fh);
  exit($rc == 0 ? 0 : 1);
}

my $limit = defined $max_jobs_run ? $max_jobs_run : scalar(@jobs);
my %running;    # pid -> job id
my @failed;
my @queue = @jobs;

# The processes started by the given ones, at any depth (from /proc's parent links).
sub descendants {
  my %children;
  foreach my $stat (glob("/proc/[0-9]*/stat")) {
    open(my $fh, "<", $stat) or next;
    my $line = <$fh>;
    close($fh);
    next unless defined $line && $line =~ m/^(\d+) \(.*\) \S+ (\d+)/s;
    push @{ $children{$2} }, $1;
  }
  my @todo = @_;
  my @found;
  while (@todo) {
    my $pid = shift @todo;
    my @c = @{ $children{$pid} || [] };
    push @found, @c;
    push @todo, @c;
  }
  return @found;
}

# An interrupt sent to run.pl alone: passed on to the running jobs and their children,
# each stopped first, and the tree read again until no new process appears, so that none
# starts another one unseen. A signal that was ignored when run.pl started (nohup's
# SIGHUP) stays ignored, by run.pl and by its jobs.
my @handled = grep { !defined $SIG{$_} || $SIG{$_} ne 'IGNORE' } qw(INT TERM HUP);
foreach my $sig (@handled) {
  $SIG{$sig} = sub {
    if (%running) {
      my %stopped;
      for (my $round = 0; $round < 10; $round++) {
        my @new = grep { !$stopped{$_} } (keys %running, descendants(keys %running));
        last unless @new;
        kill("STOP", @new);
        $stopped{$_} = 1 foreach @new;
      }
      kill($sig, keys %stopped);
      kill("CONT", keys %stopped);
    }
    print STDERR "$prog: caught SIG$sig, stopping\n";
    exit 1;
  };
}

while (@queue || %running) {
  while (@queue && keys(%running) < $limit) {
    my $id = shift @queue;
    my $pid = fork();
    defined $pid or fail("fork failed: $!");
    if ($pid == 0) {
      $SIG{$_} = 'DEFAULT' foreach @handled;
      run_job($id);
    }
    $running{$pid} = $id;
  }
  my $pid = waitpid(-1, 0);
  last if $pid < 0;
  next unless exists $running{$pid};
  my $id = delete $running{$pid};
  push @failed, $id if $? != 0;
}

if (@failed) {
  my $n = scalar(@failed);
  my $total = scalar(@jobs);
  my $where = $n == 1 ? subst($logfile, $failed[0]) : $logfile;
  print STDERR "$prog: $n / $total failed, log is in $where\n";
  # what the (first) failed job said last: often the whole story (a missing file, a full disk)
  my $first = subst($logfile, $failed[0]);
  if (open(my $fh, "<", $first)) {
    my $said;
    while (my $line = <$fh>) {
      $said = $line if $line =~ m/\S/ && $line !~ m/^# /;
    }
    close($fh);
    if (defined $said) {
      chomp $said;
      $said = substr($said, 0, 300) . " ..." if length($said) > 300;
      print STDERR "$prog: $first: $said\n";
    }
  }
  exit 1;
}
exit 0;
