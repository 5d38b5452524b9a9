#!/usr/bin/env perl
# filter_scp.pl: keep the lines of a Kaldi table whose id is in a list.
#
# Usage: filter_scp.pl [--exclude] [-f <field>] <id-list> [<in.scp>...] > out.scp
#   The ids are the first fields of the lines of <id-list>.  A line of
#   <in.scp> (or stdin) is printed if its field number <field> (1-based;
#   default 1; a negative value counts from the end, -1 being the last field)
#   is one of the ids, or, with --exclude, if it is not.  Lines keep their
#   order.  A line with too few fields is an error (file and line reported);
#   blank lines in <id-list> are skipped.
#   e.g. filter_scp.pl data/train/utt2spk data/all/feats.scp > data/train/feats.scp

use strict;
use warnings;

my $prog = "filter_scp.pl";
my $usage = "Usage: $prog [--exclude] [-f <field>] <id-list> [<in.scp>...]\n";
my $exclude = 0;
my $field = 1;
while (@ARGV && $ARGV[0] =~ m/^-./) {
  my $arg = shift @ARGV;
  if ($arg eq "--exclude") {
    $exclude = 1;
  } elsif ($arg eq "-f") {
    @ARGV or do { print STDERR "$prog: option -f requires a value\n"; exit 1; };
    $field = shift @ARGV;
  } elsif ($arg =~ m/^-f(-?\d+)$/) {
    $field = $1;
  } elsif ($arg eq "--") {
    last;
  } else {
    print STDERR "$prog: unknown option $arg\n$usage";
    exit 1;
  }
}
if ($field !~ m/^-?[1-9]\d*$/) {
  print STDERR "$prog: -f expects a non-zero integer, got '$field'\n";
  exit 1;
}
@ARGV >= 1 or do { print STDERR $usage; exit 1; };

my $idlist = shift @ARGV;
my %ids;
open(my $fh, "<", $idlist) or do { print STDERR "$prog: cannot open id list $idlist: $!\n"; exit 1; };
while (my $line = <$fh>) {
  my ($id) = split(" ", $line);
  $ids{$id} = 1 if defined $id;
}
close($fh);

while (my $line = <>) {
  my @f = split(" ", $line);
  my $n = scalar(@f);
  my $idx = $field > 0 ? $field - 1 : $n + $field;
  if ($idx < 0 || $idx >= $n) {
    chomp $line;
    print STDERR "$prog: $ARGV: line $.: no field $field in '$line'\n";
    exit 1;
  }
  print $line if ($ids{$f[$idx]} ? 1 : 0) != $exclude;
} continue {
  close ARGV if eof;
}
exit 0;
