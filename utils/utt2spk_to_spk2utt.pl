#!/usr/bin/env perl
# utt2spk_to_spk2utt.pl: convert a Kaldi utt2spk file to spk2utt.
#
# Usage: utt2spk_to_spk2utt.pl [<utt2spk>...] > spk2utt
#   Reads "<utt-id> <spk-id>" lines from the files given (or stdin) and writes
#   "<spk-id> <utt-id1> <utt-id2> ..." lines to stdout.  Speakers come out in
#   the order of their first appearance, and each speaker's utterances in the
#   order they were read.  A line that does not have exactly two fields is an
#   error (reported with its file and line number).

use strict;
use warnings;

my $prog = "utt2spk_to_spk2utt.pl";
my (@spks, %spk2utt);
while (my $line = <>) {
  my @f = split(" ", $line);
  if (@f != 2) {
    chomp $line;
    print STDERR "$prog: $ARGV: line $.: expected '<utt-id> <spk-id>', got '$line'\n";
    exit 1;
  }
  my ($utt, $spk) = @f;
  push @spks, $spk unless exists $spk2utt{$spk};
  push @{$spk2utt{$spk}}, $utt;
} continue {
  close ARGV if eof;    # so that $. counts lines per file
}
print join(" ", $_, @{$spk2utt{$_}}), "\n" foreach @spks;
exit 0;
