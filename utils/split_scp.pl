#!/usr/bin/env perl
# split_scp.pl: split a Kaldi scp-like file (or any file of lines keyed by
# utterance id) into N parts, keeping the order of the lines.
#
# Usage: split_scp.pl [--utt2spk <utt2spk>] <in.scp> <out1.scp> ... <outN.scp>
#        split_scp.pl [--utt2spk <utt2spk>] [--one-based] -j <N> <k> <in.scp> [<out1> ... <outN>]
#
# Without --utt2spk the lines are divided as evenly as possible: with L lines
# and N parts every part gets int(L/N) lines, and the first L mod N parts get
# one more.  With --utt2spk <file>, whole speakers are assigned to parts (no
# speaker is split across outputs), choosing the boundaries between
# consecutive speakers that make the parts as even as possible; then the
# lines of each speaker must be contiguous in <in.scp>, every utterance must
# be in <utt2spk>, and there must be at least N speakers.
#
# With -j N k only part k (0-based, or 1-based with --one-based) of N is
# written: to stdout if no output files are given, otherwise to the k-th of
# the N output files given.
# It is an error to ask for more parts than there are lines.

use strict;
use warnings;

my $prog = "split_scp.pl";
my $usage = "Usage: $prog [--utt2spk <utt2spk>] <in.scp> <out1.scp> ... <outN.scp>\n"
  . "   or: $prog [--utt2spk <utt2spk>] [--one-based] -j <N> <k> <in.scp> [<out1.scp> ... <outN.scp>]\n";

sub fail { print STDERR "$prog: $_[0]\n"; exit 1; }

my ($utt2spk_file, $num_jobs, $job_id);
my $one_based = 0;
while (@ARGV && $ARGV[0] =~ m/^-/) {
  my $arg = shift @ARGV;
  if ($arg =~ m/^--utt2spk=(.+)$/) {
    $utt2spk_file = $1;
  } elsif ($arg eq "--utt2spk") {
    @ARGV or fail("option --utt2spk requires a value");
    $utt2spk_file = shift @ARGV;
  } elsif ($arg eq "--one-based") {
    $one_based = 1;
  } elsif ($arg eq "-j") {
    @ARGV >= 2 or fail("option -j requires two values: <num-jobs> <job-id>");
    ($num_jobs, $job_id) = (shift @ARGV, shift @ARGV);
    $num_jobs =~ m/^[1-9]\d*$/ or fail("-j: number of jobs must be a positive integer, got '$num_jobs'");
    $job_id =~ m/^\d+$/ or fail("-j: job id must be a non-negative integer, got '$job_id'");
  } elsif ($arg eq "--") {
    last;
  } else {
    print STDERR "$prog: unknown option $arg\n$usage";
    exit 1;
  }
}

@ARGV >= 1 or do { print STDERR $usage; exit 1; };
my $in = shift @ARGV;
my @outputs = @ARGV;
my $num_parts;
if (defined $num_jobs) {
  $num_parts = $num_jobs;
  $job_id -= 1 if $one_based;
  ($job_id >= 0 && $job_id < $num_jobs)
    or fail("-j: job id out of range for $num_jobs jobs" . ($one_based ? " (--one-based)" : ""));
  (@outputs == 0 || @outputs == $num_jobs)
    or fail("with -j $num_jobs, give either no output files or exactly $num_jobs, not " . scalar(@outputs));
} else {
  @outputs >= 1 or do { print STDERR $usage; exit 1; };
  $num_parts = scalar(@outputs);
}

open(my $ifh, "<", $in) or fail("cannot open input file $in: $!");
my @lines = <$ifh>;
close($ifh);
foreach (@lines) { $_ .= "\n" unless m/\n$/; }
my $num_lines = scalar(@lines);
$num_parts <= $num_lines
  or fail("cannot split $in into $num_parts parts: it has only $num_lines line" . ($num_lines == 1 ? "" : "s"));

# $sizes[i] is the number of lines in part i.
my @sizes;
if (!defined $utt2spk_file) {
  my $base = int($num_lines / $num_parts);
  my $extra = $num_lines % $num_parts;
  @sizes = map { $base + ($_ < $extra ? 1 : 0) } (0 .. $num_parts - 1);
} else {
  my %utt2spk;
  open(my $ufh, "<", $utt2spk_file) or fail("cannot open utt2spk file $utt2spk_file: $!");
  while (my $l = <$ufh>) {
    my @f = split(" ", $l);
    @f == 2 or fail("$utt2spk_file: line $.: expected '<utt-id> <spk-id>', got: $l");
    $utt2spk{$f[0]} = $f[1];
  }
  close($ufh);
  # Group consecutive lines by speaker.
  my (@spk_sizes, %seen);
  my $prev;
  for (my $i = 0; $i < $num_lines; $i++) {
    my ($utt) = split(" ", $lines[$i]);
    defined $utt or fail("$in: line " . ($i + 1) . " is empty");
    my $spk = $utt2spk{$utt};
    defined $spk or fail("$in: line " . ($i + 1) . ": utterance $utt is not in $utt2spk_file");
    if (defined $prev && $spk eq $prev) {
      $spk_sizes[-1]++;
    } else {
      !$seen{$spk} or fail("$in: line " . ($i + 1) . ": the lines of speaker $spk are not contiguous "
                           . "(utterance $utt); sort the file or make speaker ids prefixes of utterance ids");
      $seen{$spk} = 1;
      push @spk_sizes, 1;
      $prev = $spk;
    }
  }
  my $num_spk = scalar(@spk_sizes);
  $num_parts <= $num_spk
    or fail("cannot split $in into $num_parts parts without splitting speakers: "
            . "it has only $num_spk speaker" . ($num_spk == 1 ? "" : "s") . " (per $utt2spk_file)");
  # cum[j] = number of lines in speakers 0..j-1.
  my @cum = (0);
  push @cum, $cum[-1] + $_ foreach @spk_sizes;
  # Boundary b_i (1 <= i < N) is the number of speakers in parts 0..i-1; pick
  # the one whose line count is nearest to i*L/N, leaving at least one
  # speaker for each part.
  my @bounds = (0);
  for (my $i = 1; $i < $num_parts; $i++) {
    my $target = $num_lines * $i / $num_parts;
    my ($best, $best_dist);
    for (my $b = $bounds[-1] + 1; $b <= $num_spk - ($num_parts - $i); $b++) {
      my $dist = abs($cum[$b] - $target);
      if (!defined $best || $dist < $best_dist) { ($best, $best_dist) = ($b, $dist); }
      last if $cum[$b] > $target;
    }
    push @bounds, $best;
  }
  push @bounds, $num_spk;
  @sizes = map { $cum[$bounds[$_ + 1]] - $cum[$bounds[$_]] } (0 .. $num_parts - 1);
}

my $start = 0;
for (my $p = 0; $p < $num_parts; $p++) {
  my $end = $start + $sizes[$p];
  if (!defined $job_id || $p == $job_id) {
    my $ofh;
    if (@outputs) {
      open($ofh, ">", $outputs[$p]) or fail("cannot write output file $outputs[$p]: $!");
    } else {
      $ofh = \*STDOUT;
    }
    print $ofh @lines[$start .. $end - 1];
    if (@outputs) { close($ofh) or fail("error writing $outputs[$p]: $!"); }
  }
  $start = $end;
}
exit 0;
