/* SPDX-License-Identifier: MIT */
#pragma once

#include <linux/netlink.h>

#include "core/event.h"

/*
 * Pure: one NFULNL_MSG_PACKET -> one nflog event: group, prefix, mark,
 * uid/gid, hw address, VLAN id, timestamp, sequence number, and from the
 * packet itself family, proto, src, dst, ports, TCP flags, ICMP type and
 * code, TTL, IP id and len.  Device names are left to the caller
 * (indev_index, outdev_index, physindev_index, physoutdev_index).  The
 * payload is borrowed from the message.  A packet cut short still gives
 * the fields read before the cut: the return is then -EBADMSG with the
 * event filled that far; -ENODATA for a message that is not a packet.
 */
int nflog_parse(const struct nlmsghdr *nlh, struct nlh_event *ev);
/* The same, received at time (Unix seconds) when the kernel did not stamp the packet. */
int nflog_parse_at(const struct nlmsghdr *nlh, double time, struct nlh_event *ev);

/*
 * The IP header and what follows, alone: family, proto, src, dst, sport,
 * dport, tcp_flags, icmp_type, icmp_code, ttl, ip_id, len.  l3proto is the EtherType (0x0800, 0x86dd), or 0 to take the
 * version from the first byte.
 */
int nflog_parse_packet(const uint8_t *p, size_t len, uint16_t l3proto, struct nlh_event *ev);
