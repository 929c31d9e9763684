/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "pcap.h"

#define MAGIC_US 0xa1b2c3d4u
#define MAGIC_NS 0xa1b23c4du

struct pcap_reader {
	FILE *f;
	char *name;
	bool swap;		/* written on a machine of the other byte order */
	bool nsec;
	uint32_t snaplen;
	unsigned long index;
	uint8_t *buf;		/* the record, 8-aligned */
	size_t buf_size;
};

struct pcap_writer {
	FILE *f;
	int error;
};

static uint32_t u32(const struct pcap_reader *r, const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return r->swap ? __builtin_bswap32(v) : v;
}

static int reader_init(struct pcap_reader *r, char *err, size_t errlen)
{
	uint8_t h[24];
	uint32_t magic, linktype;

	if (fread(h, 1, sizeof(h), r->f) != sizeof(h)) {
		if (ferror(r->f)) {	/* a directory: EISDIR */
			int e = errno ? errno : EIO;

			snprintf(err, errlen, "%s: cannot read: %s", r->name, strerror(e));
			return -e;
		}
		snprintf(err, errlen, "%s: not a pcap file (shorter than its 24-byte header)", r->name);
		return -EBADMSG;
	}
	memcpy(&magic, h, 4);
	if (magic == MAGIC_US || magic == MAGIC_NS) {
		r->nsec = magic == MAGIC_NS;
	} else if (__builtin_bswap32(magic) == MAGIC_US || __builtin_bswap32(magic) == MAGIC_NS) {
		r->swap = true;
		r->nsec = __builtin_bswap32(magic) == MAGIC_NS;
	} else {
		snprintf(err, errlen, "%s: not a pcap file (magic %08x)%s", r->name, magic,
			 magic == 0x0a0d0d0a ? "; pcapng is not read: convert with editcap -F pcap" : "");
		return -EBADMSG;
	}
	r->snaplen = u32(r, h + 16);
	linktype = u32(r, h + 20) & 0x0fffffff;
	if (linktype != PCAP_LINKTYPE_NETLINK) {
		snprintf(err, errlen, "%s: link type %u, not NETLINK (%d)", r->name, linktype, PCAP_LINKTYPE_NETLINK);
		return -EBADMSG;
	}
	return 0;
}

static int reader_new(FILE *f, const char *name, struct pcap_reader **ret, char *err, size_t errlen)
{
	struct pcap_reader *r = calloc(1, sizeof(*r));
	int e;

	if (!r || !(r->name = strdup(name))) {
		free(r);
		fclose(f);
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	r->f = f;
	e = reader_init(r, err, errlen);
	if (e < 0) {
		pcap_close(r);
		return e;
	}
	*ret = r;
	return 0;
}

int pcap_open(const char *path, struct pcap_reader **ret, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rbe");

	if (!f) {
		int e = -errno;

		snprintf(err, errlen, "%s: %s", path, strerror(-e));
		return e;
	}
	return reader_new(f, path, ret, err, errlen);
}

int pcap_open_mem(const void *buf, size_t len, const char *name, struct pcap_reader **ret,
		  char *err, size_t errlen)
{
	FILE *f = fmemopen((void *)buf, len ? len : 1, "rb");

	if (!f) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		return -errno;
	}
	if (!len)
		fseek(f, 0, SEEK_END);
	return reader_new(f, name, ret, err, errlen);
}

int pcap_next(struct pcap_reader *r, struct pcap_record *rec, char *err, size_t errlen)
{
	uint8_t h[16];
	uint32_t sec, frac, incl, orig;
	size_t n;

	n = fread(h, 1, sizeof(h), r->f);
	if (n == 0 && feof(r->f))
		return 0;
	r->index++;
	if (n != sizeof(h)) {
		snprintf(err, errlen, "%s: record %lu: truncated header (%zu of 16 bytes)", r->name, r->index, n);
		return -EBADMSG;
	}
	sec = u32(r, h);
	frac = u32(r, h + 4);
	incl = u32(r, h + 8);
	orig = u32(r, h + 12);
	if (incl > PCAP_RECORD_MAX || (r->snaplen && incl > r->snaplen && r->snaplen >= PCAP_COOKED_LEN)) {
		snprintf(err, errlen, "%s: record %lu: claims %u bytes (snaplen %u)", r->name, r->index, incl, r->snaplen);
		return -EBADMSG;
	}
	if (incl < PCAP_COOKED_LEN) {
		snprintf(err, errlen, "%s: record %lu: %u bytes, shorter than the 16-byte netlink header",
			 r->name, r->index, incl);
		return -EBADMSG;
	}
	if (frac >= (r->nsec ? 1000000000u : 1000000u)) {
		snprintf(err, errlen, "%s: record %lu: bad timestamp fraction %u", r->name, r->index, frac);
		return -EBADMSG;
	}
	if (incl > r->buf_size) {
		size_t size = incl < 65536 ? 65536 : incl;
		void *b = NULL;

		if (posix_memalign(&b, 8, size)) {
			snprintf(err, errlen, "%s: record %lu: out of memory", r->name, r->index);
			return -ENOMEM;
		}
		free(r->buf);
		r->buf = b;
		r->buf_size = size;
	}
	n = fread(r->buf, 1, incl, r->f);
	if (n != incl) {
		snprintf(err, errlen, "%s: record %lu: truncated (%u bytes announced, %zu in the file)",
			 r->name, r->index, incl, n);
		return -EBADMSG;
	}
	(void)orig;	/* a record cut at snaplen still has whole messages up to its end */
	rec->index = r->index;
	rec->time = sec + frac / (r->nsec ? 1e9 : 1e6);
	rec->family = (uint16_t)r->buf[14] << 8 | r->buf[15];
	/* The message goes to the front so it is 8-aligned like a receive buffer. */
	memmove(r->buf, r->buf + PCAP_COOKED_LEN, incl - PCAP_COOKED_LEN);
	rec->data = r->buf;
	rec->len = incl - PCAP_COOKED_LEN;
	return 1;
}

void pcap_close(struct pcap_reader *r)
{
	if (!r)
		return;
	if (r->f)
		fclose(r->f);
	free(r->name);
	free(r->buf);
	free(r);
}

bool pcap_fold_seen(struct pcap_fold *f, const struct pcap_record *rec)
{
	uint8_t *copy;

	for (int i = 0; i < PCAP_FOLD_KEEP; i++) {
		if (f->last[i].data && f->last[i].family == rec->family && f->last[i].len == rec->len &&
		    rec->time - f->last[i].time <= PCAP_FOLD_WINDOW && !memcmp(f->last[i].data, rec->data, rec->len)) {
			f->folded++;
			return true;
		}
	}
	/* Out of memory: nothing remembered, so a later copy passes as new. */
	copy = malloc(rec->len ? rec->len : 1);
	if (copy) {
		memcpy(copy, rec->data, rec->len);
		free(f->last[f->next].data);
		f->last[f->next].data = copy;
		f->last[f->next].len = rec->len;
		f->last[f->next].family = rec->family;
		f->last[f->next].time = rec->time;
		f->next = (f->next + 1) % PCAP_FOLD_KEEP;
	}
	return false;
}

void pcap_fold_free(struct pcap_fold *f)
{
	for (int i = 0; i < PCAP_FOLD_KEEP; i++) {
		free(f->last[i].data);
		f->last[i].data = NULL;
	}
}

int pcap_create(const char *path, struct pcap_writer **ret)
{
	/* magic, v2.4, thiszone, sigfigs, snaplen, NETLINK */
	uint32_t h[6] = { MAGIC_US, 2 | 4 << 16, 0, 0, PCAP_RECORD_MAX, PCAP_LINKTYPE_NETLINK };
	struct pcap_writer *w;
	FILE *f = fopen(path, "wbe");

	if (!f)
		return -errno;
	w = calloc(1, sizeof(*w));
	if (!w) {
		fclose(f);
		return -ENOMEM;
	}
	w->f = f;
	if (fwrite(h, sizeof(h), 1, f) != 1)
		w->error = -EIO;
	*ret = w;
	return 0;
}

int pcap_write(struct pcap_writer *w, double time, uint16_t family, const void *msg, size_t len)
{
	/* The nlmon cooked header: pkttype, ARPHRD_NETLINK, no address, family. */
	uint8_t cooked[PCAP_COOKED_LEN] = { 0, 4, 0x03, 0x38 };
	uint32_t h[4];

	if (len > PCAP_RECORD_MAX - PCAP_COOKED_LEN)
		return -EMSGSIZE;
	cooked[14] = family >> 8;
	cooked[15] = family & 0xff;
	h[0] = (uint32_t)time;
	h[1] = (uint32_t)((time - (double)h[0]) * 1e6);
	if (h[1] >= 1000000)
		h[1] = 999999;
	h[2] = h[3] = len + PCAP_COOKED_LEN;
	if (fwrite(h, sizeof(h), 1, w->f) != 1 || fwrite(cooked, sizeof(cooked), 1, w->f) != 1 ||
	    (len && fwrite(msg, len, 1, w->f) != 1)) {
		if (!w->error)
			w->error = -EIO;
		return -EIO;
	}
	return 0;
}

int pcap_writer_close(struct pcap_writer *w)
{
	int r;

	if (!w)
		return 0;
	r = w->error;
	if (fclose(w->f) != 0 && !r)
		r = -errno;
	free(w);
	return r;
}
