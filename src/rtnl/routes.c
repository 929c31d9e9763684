/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "routes.h"

/*
 * A ref: the family (0: IPv4, 1: IPv6), the slab chunk, the slot in it.
 * RTNL_ROUTE_NONE has every bit set: no chunk gets that index.
 */
#define SLOT_BITS 14
#define CHUNK_BITS 17
#define SLOT_MASK ((1u << SLOT_BITS) - 1)
#define CHUNK_MASK ((1u << CHUNK_BITS) - 1)
#define MAX_CHUNKS CHUNK_MASK
#define NONE RTNL_ROUTE_NONE

#define REF(fam, chunk, slot) ((uint32_t)(fam) << 31 | (uint32_t)(chunk) << SLOT_BITS | (uint32_t)(slot))
#define REF_FAM(ref) ((ref) >> 31)
#define REF_CHUNK(ref) (((ref) >> SLOT_BITS) & CHUNK_MASK)
#define REF_SLOT(ref) ((ref) & SLOT_MASK)

/*
 * Chunks of a slab: small ones from malloc while the family has few routes
 * (a namespace with a handful should not take pages), then 64 KiB mapped
 * straight from the kernel, so that an emptied one leaves the process
 * whatever malloc would do with it.
 */
#define SMALL_CHUNK 1024
#define BIG_CHUNK (64 * 1024)
#define SMALL_UNTIL 512
#define MAP_MIN (64 * 1024)

enum {
	F_USED = 1,
	F_SEEN = 2,
	F_GATEWAY = 4,
	F_IFINDEX = 8,
};

/* Stored form; the addresses (dst, then gateway) follow, 4 or 16 bytes each. */
struct rec {
	uint32_t if_next;	/* device list; on the free list, the next free slot */
	uint32_t if_prev;
	uint32_t table;
	uint32_t metric;
	uint32_t ifindex;
	uint8_t dst_len;
	uint8_t protocol;
	uint8_t scope;
	uint8_t type;
	uint8_t flags;
	uint8_t addr[];
};

struct chunk {
	uint32_t used;
	uint32_t cap;
	uint32_t free_head;
	uint32_t prev_partial, next_partial;	/* chunks with a free slot */
	bool in_partial;
	bool mapped;
	size_t bytes;
	uint8_t recs[] __attribute__((aligned(8)));
};

struct slab {
	size_t rec_size;
	size_t alen;
	struct chunk **chunks;	/* NULL: an index free for reuse */
	uint32_t n_chunks;
	uint32_t partial;
	size_t count;
	size_t bytes;
};

struct slot {
	uint32_t ref;		/* NONE: empty */
	uint32_t hash;
};

struct ifhead {
	uint32_t ifindex;
	uint32_t head[2];	/* per family */
};

struct rtnl_routes {
	struct slab slab[2];
	struct slot *index;
	size_t index_size;	/* a power of two, or 0 */
	struct ifhead *ifs;	/* sorted by ifindex */
	size_t n_ifs, ifs_cap;
};

static unsigned int fam_of(uint8_t family)
{
	return family == AF_INET6;
}

static void *map(size_t bytes, bool *mapped)
{
	void *p;

	*mapped = bytes >= MAP_MIN;
	if (!*mapped)
		return malloc(bytes);
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void unmap(void *p, size_t bytes, bool mapped)
{
	if (mapped)
		munmap(p, bytes);
	else
		free(p);
}

static struct rec *rec_at(const struct rtnl_routes *t, rtnl_route_ref ref)
{
	const struct slab *s = &t->slab[REF_FAM(ref)];

	return (struct rec *)(s->chunks[REF_CHUNK(ref)]->recs + REF_SLOT(ref) * s->rec_size);
}

static struct rec *slot_rec(const struct slab *s, const struct chunk *c, uint32_t slot)
{
	return (struct rec *)(c->recs + slot * s->rec_size);
}

/* Slabs */

static void partial_unlink(struct slab *s, struct chunk *c)
{
	if (c->prev_partial != NONE)
		s->chunks[c->prev_partial]->next_partial = c->next_partial;
	else
		s->partial = c->next_partial;
	if (c->next_partial != NONE)
		s->chunks[c->next_partial]->prev_partial = c->prev_partial;
	c->in_partial = false;
}

static void partial_push(struct slab *s, struct chunk *c, uint32_t idx)
{
	c->prev_partial = NONE;
	c->next_partial = s->partial;
	if (s->partial != NONE)
		s->chunks[s->partial]->prev_partial = idx;
	s->partial = idx;
	c->in_partial = true;
}

static int chunk_new(struct slab *s)
{
	size_t bytes = s->count < SMALL_UNTIL ? SMALL_CHUNK : BIG_CHUNK;
	uint32_t idx = 0;
	struct chunk *c;
	bool mapped;

	while (idx < s->n_chunks && s->chunks[idx])
		idx++;
	if (idx == s->n_chunks) {
		uint32_t n = s->n_chunks ? s->n_chunks * 2 : 8;
		struct chunk **a;

		if (n > MAX_CHUNKS)
			n = MAX_CHUNKS;
		if (idx >= n)
			return -ENOMEM;
		a = realloc(s->chunks, n * sizeof(*a));
		if (!a)
			return -ENOMEM;
		memset(a + s->n_chunks, 0, (n - s->n_chunks) * sizeof(*a));
		s->bytes += (n - s->n_chunks) * sizeof(*a);
		s->chunks = a;
		s->n_chunks = n;
	}
	c = map(bytes, &mapped);
	if (!c)
		return -ENOMEM;
	c->used = 0;
	c->cap = (bytes - sizeof(*c)) / s->rec_size;
	c->mapped = mapped;
	c->bytes = bytes;
	c->free_head = 0;
	for (uint32_t i = 0; i < c->cap; i++) {
		struct rec *r = slot_rec(s, c, i);

		r->flags = 0;
		r->if_next = i + 1 < c->cap ? i + 1 : NONE;
	}
	s->chunks[idx] = c;
	s->bytes += bytes;
	partial_push(s, c, idx);
	return 0;
}

static int slab_alloc(struct slab *s, unsigned int fam, rtnl_route_ref *ret)
{
	struct chunk *c;
	uint32_t idx, slot;
	int r;

	if (s->partial == NONE && (r = chunk_new(s)) < 0)
		return r;
	idx = s->partial;
	c = s->chunks[idx];
	slot = c->free_head;
	c->free_head = slot_rec(s, c, slot)->if_next;
	c->used++;
	s->count++;
	if (c->free_head == NONE)
		partial_unlink(s, c);
	*ret = REF(fam, idx, slot);
	return 0;
}

static void slab_release(struct slab *s, rtnl_route_ref ref)
{
	uint32_t idx = REF_CHUNK(ref);
	struct chunk *c = s->chunks[idx];
	struct rec *r = slot_rec(s, c, REF_SLOT(ref));

	r->flags = 0;
	r->if_next = c->free_head;
	c->free_head = REF_SLOT(ref);
	c->used--;
	s->count--;
	if (!c->used) {
		if (c->in_partial)
			partial_unlink(s, c);
		s->chunks[idx] = NULL;
		s->bytes -= c->bytes;
		unmap(c, c->bytes, c->mapped);
		return;
	}
	if (!c->in_partial)
		partial_push(s, c, idx);
}

static void slab_clear(struct slab *s)
{
	for (uint32_t i = 0; i < s->n_chunks; i++)
		if (s->chunks[i])
			unmap(s->chunks[i], s->chunks[i]->bytes, s->chunks[i]->mapped);
	free(s->chunks);
	s->chunks = NULL;
	s->n_chunks = 0;
	s->partial = NONE;
	s->count = 0;
	s->bytes = 0;
}

/* Keys and the index */

static uint64_t mix(uint64_t h, uint32_t w)
{
	h = (h ^ w) * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 29);
}

static uint32_t key_hash(unsigned int fam, uint32_t table, uint32_t metric, uint8_t dst_len, const uint8_t *dst,
			 uint32_t ifindex)
{
	uint64_t h = mix(fam, table);
	uint32_t w;

	h = mix(h, metric ^ (uint32_t)dst_len << 24);
	for (size_t i = 0; i < (fam ? 16u : 4u); i += 4) {
		memcpy(&w, dst + i, 4);
		h = mix(h, w);
	}
	/* IPv6 keeps a route per device for one prefix (fe80::/64 on every link). */
	if (fam)
		h = mix(h, ifindex);
	h ^= h >> 32;
	return (uint32_t)h;
}

static uint32_t rec_hash(const struct rtnl_routes *t, rtnl_route_ref ref)
{
	const struct rec *r = rec_at(t, ref);

	return key_hash(REF_FAM(ref), r->table, r->metric, r->dst_len, r->addr, r->ifindex);
}

static bool rec_has_key(const struct rec *rc, unsigned int fam, const struct rtnl_route *k, size_t alen)
{
	return rc->table == k->table && rc->metric == k->metric && rc->dst_len == k->dst_len &&
	       !memcmp(rc->addr, k->dst, alen) && (!fam || rc->ifindex == k->ifindex);
}

static int index_resize(struct rtnl_routes *t, size_t size)
{
	struct slot *old = t->index, *s;
	size_t old_size = t->index_size;
	bool mapped, old_mapped = old_size * sizeof(*old) >= MAP_MIN;

	s = map(size * sizeof(*s), &mapped);
	if (!s)
		return -ENOMEM;
	memset(s, 0xff, size * sizeof(*s));
	for (size_t i = 0; i < old_size; i++) {
		size_t j;

		if (old[i].ref == NONE)
			continue;
		for (j = old[i].hash & (size - 1); s[j].ref != NONE; j = (j + 1) & (size - 1))
			;
		s[j] = old[i];
	}
	if (old)
		unmap(old, old_size * sizeof(*old), old_mapped);
	t->index = s;
	t->index_size = size;
	return 0;
}

static size_t total(const struct rtnl_routes *t)
{
	return t->slab[0].count + t->slab[1].count;
}

/* Linear probing, at most 3/4 full; shrunk below 1/8 so that a table that emptied gives its index back. */
#define INDEX_MIN 64

static size_t index_find(const struct rtnl_routes *t, const struct rtnl_route *k, uint32_t h)
{
	unsigned int fam = fam_of(k->family);
	size_t mask = t->index_size - 1, alen = t->slab[fam].alen;

	if (!t->index_size)
		return SIZE_MAX;
	for (size_t i = h & mask; t->index[i].ref != NONE; i = (i + 1) & mask)
		if (t->index[i].hash == h && REF_FAM(t->index[i].ref) == fam &&
		    rec_has_key(rec_at(t, t->index[i].ref), fam, k, alen))
			return i;
	return SIZE_MAX;
}

static void index_insert(struct rtnl_routes *t, rtnl_route_ref ref, uint32_t h)
{
	size_t mask = t->index_size - 1, i;

	for (i = h & mask; t->index[i].ref != NONE; i = (i + 1) & mask)
		;
	t->index[i] = (struct slot){ ref, h };
}

/* Backward-shift deletion: no tombstones, probes stay short under churn. */
static void index_delete(struct rtnl_routes *t, size_t i)
{
	size_t mask = t->index_size - 1, j = i;

	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (t->index[j].ref == NONE)
			break;
		home = t->index[j].hash & mask;
		/* Moves back unless its home lies cyclically in (i, j]. */
		if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
			t->index[i] = t->index[j];
			i = j;
		}
	}
	t->index[i].ref = NONE;
}

/* Device lists */

static struct ifhead *if_find(const struct rtnl_routes *t, uint32_t ifindex, size_t *pos)
{
	size_t lo = 0, hi = t->n_ifs;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (t->ifs[mid].ifindex < ifindex)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (pos)
		*pos = lo;
	return lo < t->n_ifs && t->ifs[lo].ifindex == ifindex ? &t->ifs[lo] : NULL;
}

static int if_link(struct rtnl_routes *t, rtnl_route_ref ref, struct rec *r)
{
	unsigned int fam = REF_FAM(ref);
	size_t pos;
	struct ifhead *h = if_find(t, r->ifindex, &pos);

	if (!h) {
		if (t->n_ifs == t->ifs_cap) {
			size_t n = t->ifs_cap ? t->ifs_cap * 2 : 4;
			struct ifhead *a = realloc(t->ifs, n * sizeof(*a));

			if (!a)
				return -ENOMEM;
			t->ifs = a;
			t->ifs_cap = n;
		}
		memmove(t->ifs + pos + 1, t->ifs + pos, (t->n_ifs - pos) * sizeof(*t->ifs));
		t->n_ifs++;
		h = &t->ifs[pos];
		*h = (struct ifhead){ r->ifindex, { NONE, NONE } };
	}
	r->if_prev = NONE;
	r->if_next = h->head[fam];
	if (h->head[fam] != NONE)
		rec_at(t, h->head[fam])->if_prev = ref;
	h->head[fam] = ref;
	return 0;
}

static void if_unlink(struct rtnl_routes *t, rtnl_route_ref ref, struct rec *r)
{
	unsigned int fam = REF_FAM(ref);
	size_t pos;
	struct ifhead *h = if_find(t, r->ifindex, &pos);

	if (r->if_next != NONE)
		rec_at(t, r->if_next)->if_prev = r->if_prev;
	if (r->if_prev != NONE) {
		rec_at(t, r->if_prev)->if_next = r->if_next;
		return;
	}
	h->head[fam] = r->if_next;
	if (h->head[0] == NONE && h->head[1] == NONE) {
		memmove(t->ifs + pos, t->ifs + pos + 1, (t->n_ifs - pos - 1) * sizeof(*t->ifs));
		t->n_ifs--;
	}
}

/* The table */

struct rtnl_routes *rtnl_routes_new(void)
{
	struct rtnl_routes *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	for (unsigned int fam = 0; fam < 2; fam++) {
		struct slab *s = &t->slab[fam];

		s->alen = fam ? 16 : 4;
		/* The head, two addresses, rounded up for the head's 32-bit members. */
		s->rec_size = (offsetof(struct rec, addr) + 2 * s->alen + 3) & ~(size_t)3;
		s->partial = NONE;
	}
	return t;
}

void rtnl_routes_free(struct rtnl_routes *t)
{
	if (!t)
		return;
	slab_clear(&t->slab[0]);
	slab_clear(&t->slab[1]);
	if (t->index)
		unmap(t->index, t->index_size * sizeof(*t->index), t->index_size * sizeof(*t->index) >= MAP_MIN);
	free(t->ifs);
	free(t);
}

static uint8_t content_flags(const struct rtnl_route *r)
{
	return (r->has_gateway ? F_GATEWAY : 0) | (r->has_ifindex ? F_IFINDEX : 0);
}

static bool same_content(const struct rec *rc, const struct rtnl_route *r, size_t alen)
{
	return (rc->flags & (F_GATEWAY | F_IFINDEX)) == content_flags(r) && rc->ifindex == r->ifindex &&
	       rc->protocol == r->protocol && rc->scope == r->scope && rc->type == r->type &&
	       !memcmp(rc->addr + alen, r->gateway, alen);
}

static void rec_write(struct rec *rc, const struct rtnl_route *r, size_t alen)
{
	rc->table = r->table;
	rc->metric = r->metric;
	rc->ifindex = r->ifindex;
	rc->dst_len = r->dst_len;
	rc->protocol = r->protocol;
	rc->scope = r->scope;
	rc->type = r->type;
	rc->flags = F_USED | F_SEEN | content_flags(r);
	memcpy(rc->addr, r->dst, alen);
	memcpy(rc->addr + alen, r->gateway, alen);
}

int rtnl_routes_put(struct rtnl_routes *t, const struct rtnl_route *r)
{
	unsigned int fam = fam_of(r->family);
	struct slab *s = &t->slab[fam];
	uint32_t h = key_hash(fam, r->table, r->metric, r->dst_len, r->dst, r->ifindex);
	size_t i = index_find(t, r, h);
	rtnl_route_ref ref;
	struct rec *rc;
	int ret;

	if (i != SIZE_MAX) {
		ref = t->index[i].ref;
		rc = rec_at(t, ref);
		if (same_content(rc, r, s->alen)) {
			rc->flags |= F_SEEN;
			return RTNL_ROUTE_SAME;
		}
		/* An IPv4 replace may move the route to another device. */
		if (rc->ifindex != r->ifindex) {
			if_unlink(t, ref, rc);
			rc->ifindex = r->ifindex;
			if ((ret = if_link(t, ref, rc)) < 0) {
				index_delete(t, i);
				slab_release(s, ref);
				return ret;
			}
		}
		rec_write(rc, r, s->alen);
		return RTNL_ROUTE_CHANGED;
	}
	if ((total(t) + 1) * 4 > t->index_size * 3 &&
	    (ret = index_resize(t, t->index_size ? t->index_size * 2 : INDEX_MIN)) < 0)
		return ret;
	if ((ret = slab_alloc(s, fam, &ref)) < 0)
		return ret;
	rc = rec_at(t, ref);
	rec_write(rc, r, s->alen);
	if ((ret = if_link(t, ref, rc)) < 0) {
		slab_release(s, ref);
		return ret;
	}
	index_insert(t, ref, h);
	return RTNL_ROUTE_NEW;
}

rtnl_route_ref rtnl_routes_find(const struct rtnl_routes *t, const struct rtnl_route *key)
{
	unsigned int fam = fam_of(key->family);
	size_t i = index_find(t, key, key_hash(fam, key->table, key->metric, key->dst_len, key->dst, key->ifindex));

	return i == SIZE_MAX ? NONE : t->index[i].ref;
}

void rtnl_routes_get(const struct rtnl_routes *t, rtnl_route_ref ref, struct rtnl_route *ret)
{
	const struct rec *rc = rec_at(t, ref);
	size_t alen = t->slab[REF_FAM(ref)].alen;

	memset(ret, 0, sizeof(*ret));
	ret->family = REF_FAM(ref) ? AF_INET6 : AF_INET;
	ret->table = rc->table;
	ret->metric = rc->metric;
	ret->ifindex = rc->ifindex;
	ret->dst_len = rc->dst_len;
	ret->protocol = rc->protocol;
	ret->scope = rc->scope;
	ret->type = rc->type;
	ret->has_gateway = rc->flags & F_GATEWAY;
	ret->has_ifindex = rc->flags & F_IFINDEX;
	memcpy(ret->dst, rc->addr, alen);
	memcpy(ret->gateway, rc->addr + alen, alen);
}

void rtnl_routes_remove(struct rtnl_routes *t, rtnl_route_ref ref)
{
	struct rec *rc = rec_at(t, ref);
	uint32_t h = rec_hash(t, ref);
	size_t mask = t->index_size - 1, i;
	size_t n;

	for (i = h & mask; t->index[i].ref != ref; i = (i + 1) & mask)
		;
	index_delete(t, i);
	if_unlink(t, ref, rc);
	slab_release(&t->slab[REF_FAM(ref)], ref);
	n = total(t);
	if (t->index_size > INDEX_MIN && n * 8 < t->index_size) {
		size_t size = INDEX_MIN;

		while (size * 3 < n * 4 * 2)
			size *= 2;
		/* Out of memory for a smaller index: the larger one still works. */
		(void)index_resize(t, size);
	}
}

rtnl_route_ref rtnl_routes_next(const struct rtnl_routes *t, rtnl_route_ref ref)
{
	unsigned int fam = 0;
	uint32_t chunk = 0, slot = 0;

	if (ref != NONE) {
		fam = REF_FAM(ref);
		chunk = REF_CHUNK(ref);
		slot = REF_SLOT(ref) + 1;
	}
	for (; fam < 2; fam++, chunk = 0, slot = 0) {
		const struct slab *s = &t->slab[fam];

		for (; chunk < s->n_chunks; chunk++, slot = 0) {
			const struct chunk *c = s->chunks[chunk];

			if (!c)
				continue;
			for (; slot < c->cap; slot++)
				if (slot_rec(s, c, slot)->flags & F_USED)
					return REF(fam, chunk, slot);
		}
	}
	return NONE;
}

rtnl_route_ref rtnl_routes_next_if(const struct rtnl_routes *t, uint32_t ifindex, uint8_t family,
				   rtnl_route_ref ref)
{
	const struct ifhead *h;

	if (ref != NONE)
		return rec_at(t, ref)->if_next;
	h = if_find(t, ifindex, NULL);
	return h ? h->head[fam_of(family)] : NONE;
}

size_t rtnl_routes_count(const struct rtnl_routes *t, uint8_t family)
{
	if (family == AF_INET || family == AF_INET6)
		return t->slab[fam_of(family)].count;
	return total(t);
}

size_t rtnl_routes_bytes(const struct rtnl_routes *t)
{
	return sizeof(*t) + t->slab[0].bytes + t->slab[1].bytes + t->index_size * sizeof(*t->index) +
	       t->ifs_cap * sizeof(*t->ifs);
}

void rtnl_routes_unmark(struct rtnl_routes *t)
{
	for (rtnl_route_ref ref = rtnl_routes_next(t, NONE); ref != NONE; ref = rtnl_routes_next(t, ref))
		rec_at(t, ref)->flags &= ~F_SEEN;
}

bool rtnl_routes_marked(const struct rtnl_routes *t, rtnl_route_ref ref)
{
	return rec_at(t, ref)->flags & F_SEEN;
}
