#!/usr/bin/env perl
# spk2utt_to_utt2spk.pl: convert a Kaldi spk2utt file to utt2spk.
#
# Usage: spk2utt_to_utt2spk.pl [<spk2utt>...] > utt2spk
#   Reads "<spk-id> <utt-id1> <utt-id2> ..." lines from the files given (or
#   stdin) and writes one "<utt-id> <spk-id>" line per utterance, in the order
#   read.  A speaker without utterances is an error (reported with its file and
#   line number).

use strict;
use warnings;

my $prog = "spk2utt_to_utt2spk.pl";
while (my $line = <>) {
  my ($spk, @utts) = split(" ", $line);
  if (!@utts) {
    chomp $line;
    print STDERR "$prog: $ARGV: line $.: expected '<spk-id> <utt-id1> [<utt-id2> ...]', got '$line'\n";
    exit 1;
  }
  print "$_ $spk\n" foreach @utts;
} continue {
  close ARGV if eof;    # so that $. counts lines per file
}
exit 0;
