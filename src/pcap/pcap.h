/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * pcap files of link type NETLINK (253), as the kernel's nlmon device and
 * `nlhook record` write them: each frame a 16-byte cooked header (its
 * protocol field is the netlink family) and the netlink message(s).
 * The reader is fed untrusted files: every length is checked, and errors
 * read "FILE: record N: what".
 */
#define PCAP_LINKTYPE_NETLINK 253
#define PCAP_COOKED_LEN 16
#define PCAP_RECORD_MAX (1024 * 1024)

struct pcap_record {
	unsigned long index;	/* 1-based */
	double time;
	uint16_t family;	/* NETLINK_ROUTE, NETLINK_GENERIC, NETLINK_NETFILTER, ... */
	const uint8_t *data;	/* the netlink bytes, 8-aligned; valid until the next call */
	size_t len;
};

struct pcap_reader;

int pcap_open(const char *path, struct pcap_reader **ret, char *err, size_t errlen);
/* 1: a record in *rec; 0: end of file; -EBADMSG/-EIO: err says where and why. */
int pcap_next(struct pcap_reader *r, struct pcap_record *rec, char *err, size_t errlen);
void pcap_close(struct pcap_reader *r);

/* From memory (fuzzing, tests): the bytes must outlive the reader. */
int pcap_open_mem(const void *buf, size_t len, const char *name, struct pcap_reader **ret,
		  char *err, size_t errlen);

/*
 * nlmon records a multicast message once per listening socket, and other
 * messages can fall between the copies: a record identical to one of the
 * last PCAP_FOLD_KEEP, seen within PCAP_FOLD_WINDOW seconds, is a copy of
 * one kernel event.  Zero-initialise; pcap_fold_free() at the end.
 */
#define PCAP_FOLD_KEEP 8
#define PCAP_FOLD_WINDOW 0.010

struct pcap_fold {
	struct {
		uint8_t *data;
		size_t len;
		uint16_t family;
		double time;
	} last[PCAP_FOLD_KEEP];
	unsigned int next;
	unsigned long folded;
};

/* true: a copy, skip it (counted in folded); false: a new message, remembered. */
bool pcap_fold_seen(struct pcap_fold *f, const struct pcap_record *rec);
void pcap_fold_free(struct pcap_fold *f);

struct pcap_writer;

int pcap_create(const char *path, struct pcap_writer **ret);
int pcap_write(struct pcap_writer *w, double time, uint16_t family, const void *msg, size_t len);
/* Flushes; returns the first write error, if any. */
int pcap_writer_close(struct pcap_writer *w);
