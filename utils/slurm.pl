#!/usr/bin/env perl
# slurm.pl: run a command (or an array of jobs) through Slurm's sbatch, with
# the same interface as utils/run.pl.
#
# Usage: slurm.pl [options] [JOB=1:N] <log-file> <command> [<args>...]
#   e.g. slurm.pl --gpu 1 --mem 16G JOB=1:4 exp/log/foo.JOB.log foo JOB
#
# For every job a batch script <log-dir>/q/<log-name>.sh is written (with
# JOB replaced by the job index, as in run.pl) and submitted with one sbatch
# call per job.  The script runs the command under bash with pipefail set,
# writes stdout and stderr to the log file (same header and footer as
# run.pl), and finally writes the exit code to the marker file
# <log-dir>/q/<log-name>.done.  slurm.pl polls for the marker files, so it
# needs neither sacct nor "sbatch --wait".  If squeue is available, a job
# that has left the queue without writing its marker (killed, out of time,
# node failure) is counted as failed.  Slurm's own output for each job goes
# to <log-dir>/q/<log-name>.out.
#
# Options (each takes a value):
#   --gpu N           --gres=gpu:N (nothing when N is 0)
#   --mem X           --mem=X
#   --num-threads N   --cpus-per-task=N
#   --time T          --time=T
#   --config F        file of extra sbatch options, several per line allowed;
#                     blank lines and "#" comments are ignored.  These come
#                     first, so the options above override them.  A missing
#                     conf/slurm.conf is ignored; any other missing file is
#                     an error.
#   --max-jobs-run K  keep at most K jobs submitted at a time (default: all)
#   --sbatch PATH     the sbatch program (default: $SBATCH, else "sbatch")
#   --squeue PATH     the squeue program (default: $SQUEUE, else "squeue";
#                     "none" turns the check off)
#   --poll-interval S seconds between checks for finished jobs (default:
#                     $SLURM_PL_POLL_INTERVAL, else 5)
# Exit status: 0 if every job succeeded; otherwise 1, after printing
# "slurm.pl: <k> / <N> failed, log is in <log>" to stderr.

use strict;
use warnings;
use Cwd qw(getcwd);
use File::Basename qw(dirname basename);
use File::Path qw(make_path);
use File::Spec;
use Time::HiRes qw(sleep time);

my $prog = "slurm.pl";
my $usage = "Usage: $prog [options] [JOB=1:N] <log-file> <command> [<args>...]\n"
  . "Options: --gpu N, --mem X, --num-threads N, --time T, --config F, --max-jobs-run K,\n"
  . "         --sbatch PATH, --squeue PATH, --poll-interval SECONDS\n";

sub fail { print STDERR "$prog: $_[0]\n"; exit 1; }

my %opt = (
  "gpu" => 0,
  "mem" => undef,
  "num-threads" => 1,
  "time" => undef,
  "config" => undef,
  "max-jobs-run" => undef,
  "sbatch" => (defined $ENV{SBATCH} && $ENV{SBATCH} ne "") ? $ENV{SBATCH} : "sbatch",
  "squeue" => (defined $ENV{SQUEUE} && $ENV{SQUEUE} ne "") ? $ENV{SQUEUE} : "squeue",
  "poll-interval" => (defined $ENV{SLURM_PL_POLL_INTERVAL} && $ENV{SLURM_PL_POLL_INTERVAL} ne "")
    ? $ENV{SLURM_PL_POLL_INTERVAL} : 5,
);
my ($jobname, $jobstart, $jobend);

while (@ARGV) {
  my $arg = $ARGV[0];
  if ($arg =~ m/^--([A-Za-z][\w-]*)(?:=(.*))?$/) {
    shift @ARGV;
    my $name = $1;
    $name =~ s/_/-/g;
    my $value = $2;
    exists $opt{$name} or fail("unknown option --$name");
    if (!defined $value) {
      @ARGV or fail("option --$name requires a value");
      $value = shift @ARGV;
    }
    $opt{$name} = $value;
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

$opt{"gpu"} =~ m/^\d+$/ or fail("--gpu expects a non-negative integer, got '$opt{gpu}'");
$opt{"num-threads"} =~ m/^[1-9]\d*$/
  or fail("--num-threads expects a positive integer, got '$opt{'num-threads'}'");
!defined $opt{"max-jobs-run"} || $opt{"max-jobs-run"} =~ m/^[1-9]\d*$/
  or fail("--max-jobs-run expects a positive integer, got '$opt{'max-jobs-run'}'");
$opt{"poll-interval"} =~ m/^(\d+\.?\d*|\.\d+)$/ && $opt{"poll-interval"} > 0
  or fail("--poll-interval expects a positive number, got '$opt{'poll-interval'}'");

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

sub shell_quote {
  my ($s) = @_;
  $s =~ s/'/'\\''/g;
  return "'$s'";
}

# sbatch options: the config file first, so that explicit options win.
my @sbatch_opts;
if (defined $opt{"config"}) {
  my $conf = $opt{"config"};
  if (-f $conf) {
    open(my $fh, "<", $conf) or fail("cannot read config file $conf: $!");
    while (my $line = <$fh>) {
      $line =~ s/#.*//;
      $line =~ s/^\s+|\s+$//g;
      next if $line eq "";
      my @tok = split(/\s+/, $line);
      $tok[0] =~ m/^-/ or fail("$conf: line $.: expected sbatch options (starting with '-'), got '$line'");
      push @sbatch_opts, @tok;
    }
    close($fh);
  } elsif ($conf ne "conf/slurm.conf") {
    fail("config file $conf does not exist");
  }
}
push @sbatch_opts, "--gres=gpu:$opt{gpu}" if $opt{"gpu"} > 0;
push @sbatch_opts, "--mem=$opt{mem}" if defined $opt{"mem"};
push @sbatch_opts, "--cpus-per-task=$opt{'num-threads'}" if $opt{"num-threads"} > 1;
push @sbatch_opts, "--time=$opt{time}" if defined $opt{"time"};

my $cwd = getcwd();
my $job_label = basename($logfile);
$job_label =~ s/\.log$//;
$job_label =~ s/\.?\Q$jobname\E//g if defined $jobname;
$job_label = "job" if $job_label eq "";

# Per-job files.
my %info;    # job index (or "" for a single job without JOB=) -> hash
foreach my $id (@jobs) {
  my $key = defined $id ? $id : "";
  my $log = subst($logfile, $id);
  my $qdir = dirname($log) . "/q";
  my $name = basename($log);
  $name =~ s/\.log$//;
  my $base = "$qdir/$name";
  $info{$key} = {
    id => $id, log => $log, qdir => $qdir, script => "$base.sh",
    done => "$base.done", out => "$base.out", cmd => subst($cmd, $id),
  };
}

sub write_script {
  my ($j) = @_;
  eval { make_path($j->{qdir}) unless -d $j->{qdir}; 1 } or fail("cannot create directory $j->{qdir}: $@");
  unlink($j->{done}, $j->{log}, $j->{out});
  my $abs = sub { File::Spec->rel2abs($_[0], $cwd) };
  my $log = shell_quote($abs->($j->{log}));
  my $done = shell_quote($abs->($j->{done}));
  my $c = $j->{cmd};
  my $eof = "SLURM_PL_EOF_" . int(rand(1e9));
  $eof .= "X" while index($c, $eof) >= 0;
  open(my $fh, ">", $j->{script}) or fail("cannot write $j->{script}: $!");
  print $fh <<"SCRIPT";
#!/usr/bin/env bash
# Written by utils/slurm.pl; submitted with sbatch.
cd @{[shell_quote($cwd)]} || exit 1
[ -f ./path.sh ] && . ./path.sh
log=$log
done_file=$done
mkdir -p "\$(dirname "\$log")"
{
  cat <<'$eof'
# $c
$eof
  echo "# Started at \$(date)"
  echo "# Running on \${HOSTNAME:-\$(uname -n)} (Slurm job \${SLURM_JOB_ID:-?})"
} > "\$log"
start=\$(date +%s)
( set -o pipefail
$c
) < /dev/null >> "\$log" 2>&1
rc=\$?
end=\$(date +%s)
echo "# Accounting: time=\$((end - start)) threads=$opt{'num-threads'}" >> "\$log"
echo "# Ended (code \$rc) at \$(date)" >> "\$log"
echo "\$rc" > "\$done_file.tmp" && mv -f "\$done_file.tmp" "\$done_file"
exit "\$rc"
SCRIPT
  close($fh) or fail("cannot write $j->{script}: $!");
  chmod(0755, $j->{script});
}

sub in_path {
  my ($p) = @_;
  return -x $p if $p =~ m{/};
  foreach my $d (split(/:/, $ENV{PATH} || "")) {
    return 1 if $d ne "" && -x "$d/$p";
  }
  return 0;
}
my $have_squeue = $opt{"squeue"} ne "none" && in_path($opt{"squeue"});
my $user = $ENV{USER} || getpwuid($<) || "";

my %submitted;   # key -> slurm job id
my %missing;     # key -> number of consecutive squeue checks that did not list it
my @failed;

sub submit {
  my ($key) = @_;
  my $j = $info{$key};
  write_script($j);
  my @cmdline = ($opt{"sbatch"}, "--parsable", "--job-name=$job_label", "--output=$j->{out}",
                 @sbatch_opts, $j->{script});
  my $pid = open(my $ph, "-|");
  defined $pid or fail("fork failed: $!");
  if ($pid == 0) {
    open(STDERR, ">&", \*STDOUT);
    exec(@cmdline) or do { print "cannot run $opt{sbatch}: $!\n"; exit 127; };
  }
  my $output = do { local $/; <$ph> };
  close($ph);
  my $rc = $? >> 8;
  $output = "" unless defined $output;
  chomp($output);
  if ($rc != 0) {
    fail("submitting $j->{script} failed (exit code $rc): "
         . join(" ", map { m/^\S+$/ ? $_ : shell_quote($_) } @cmdline) . "\n$output");
  }
  my ($slurm_id) = $output =~ m/^(\d+)/m;
  $submitted{$key} = defined $slurm_id ? $slurm_id : "";
  $missing{$key} = 0;
}

sub cancel_all {
  my @ids = grep { $_ ne "" } values %submitted;
  system("scancel", @ids) if @ids && in_path("scancel");
}

foreach my $sig (qw(INT TERM)) {
  $SIG{$sig} = sub {
    print STDERR "$prog: caught SIG$sig, cancelling the submitted jobs\n";
    cancel_all();
    exit 1;
  };
}

# The ids of this user's jobs that squeue lists, or undef if squeue failed
# (e.g. the controller did not answer), in which case nothing is concluded.
sub queued_ids {
  my $pid = open(my $ph, "-|");
  return undef unless defined $pid;
  if ($pid == 0) {
    open(STDERR, ">", "/dev/null");
    my @args = ("-h", "-o", "%i");
    push @args, "-u", $user if $user ne "";
    exec($opt{"squeue"}, @args) or exit 127;
  }
  my @lines = <$ph>;
  close($ph);
  return undef if $? != 0;
  my %q;
  foreach (@lines) { $q{$1} = 1 if m/^\s*(\d+)/; }
  return \%q;
}

my @queue = map { defined $_ ? $_ : "" } @jobs;
my $limit = defined $opt{"max-jobs-run"} ? $opt{"max-jobs-run"} : scalar(@jobs);
my $polls = 0;
while (@queue || %submitted) {
  while (@queue && keys(%submitted) < $limit) {
    submit(shift @queue);
  }
  sleep($opt{"poll-interval"});
  $polls++;
  foreach my $key (keys %submitted) {
    my $j = $info{$key};
    next unless -e $j->{done};
    open(my $fh, "<", $j->{done}) or next;
    my $rc = <$fh>;
    close($fh);
    next unless defined $rc && $rc =~ m/^(\d+)\s*$/;
    push @failed, $key if $1 != 0;
    delete $submitted{$key};
    delete $missing{$key};
  }
  # Every 6th poll, ask squeue about the jobs that have not finished.  A job
  # that squeue has not listed on two checks in a row and that still has no
  # marker file died without running to the end of its script.
  if ($have_squeue && %submitted && $polls % 6 == 0) {
    my $q = queued_ids();
    next unless defined $q;
    foreach my $key (keys %submitted) {
      my $sid = $submitted{$key};
      next if $sid eq "" || $q->{$sid};
      next if -e $info{$key}->{done};
      if (++$missing{$key} >= 2) {
        my $j = $info{$key};
        print STDERR "$prog: Slurm job $sid ($j->{script}) is no longer queued but wrote no "
          . "exit code to $j->{done}; see $j->{out}\n";
        push @failed, $key;
        delete $submitted{$key};
        delete $missing{$key};
      }
    }
  }
}

if (@failed) {
  my $n = scalar(@failed);
  my $total = scalar(@jobs);
  my $where = $n == 1 ? $info{$failed[0]}->{log} : $logfile;
  print STDERR "$prog: $n / $total failed, log is in $where\n";
  exit 1;
}
exit 0;
