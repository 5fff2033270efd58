#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Regenerates the netlink seeds of the rtnl and nft fuzzers (tests/fuzz/corpus/{rtnl,nft}) from
# what the kernel itself answers to dumps: links, addresses and routes of the kinds detection
# meets (veth, bridge, vxlan, geneve, ipip, vlan, multipath and MTU routes), and nf_tables
# tables, chains and rules (ours as `rules apply` installs them, and foreign nat rules) and the
# extended ACKs of a refused batch. Runs in
# a network namespace it creates and deletes; needs root. Usage: capture_netlink_seeds.sh
set -euo pipefail
cd "$(dirname "$0")"
ns="dncfuzz-seed-$$"
ip netns add "$ns"
trap 'ip netns del "$ns"' EXIT
in_ns() { ip netns exec "$ns" "$@"; }

in_ns ip link set lo up
in_ns ip link add eth0 type veth peer name uplink-peer  # dummy needs a module not every host has
in_ns ip link set uplink-peer up
in_ns ip link set eth0 mtu 1450 up
in_ns ip addr add 10.0.2.15/24 dev eth0
in_ns ip addr add fd00:10::15/64 dev eth0 nodad
in_ns ip link add docker0 type bridge
in_ns ip link set docker0 mtu 1400 up
in_ns ip addr add 172.17.0.1/16 dev docker0
in_ns ip link add veth0 mtu 1400 type veth peer name veth1
in_ns ip link set veth0 master docker0 up
in_ns ip link add vxlan42 type vxlan id 42 group 239.1.1.1 dev eth0 dstport 4789 || echo "no vxlan: skipped" >&2
in_ns ip link add vxlan6 type vxlan id 43 local fd00:10::15 remote fd00:10::16 dstport 4789 || echo "no vxlan: skipped" >&2
in_ns ip link add gnv0 type geneve id 7 remote 10.0.2.16 || echo "no geneve: skipped" >&2
in_ns ip link add ipip0 type ipip local 10.0.2.15 remote 10.0.2.16 || echo "no ipip: skipped" >&2
in_ns ip link add link eth0 name eth0.100 type vlan id 100 || echo "no vlan: skipped" >&2
in_ns ip route add default via 10.0.2.2 dev eth0 mtu 1400
in_ns ip route add 10.96.0.0/12 nexthop via 10.0.2.2 dev eth0 weight 1 nexthop via 10.0.2.3 dev eth0 weight 2
in_ns ip route add blackhole 192.0.2.0/24
in_ns ip route add 198.51.100.0/24 via 10.0.2.2 table 100 metric 50
in_ns ip -6 route add default via fd00:10::1 dev eth0 metric 1024

in_ns nft -f - <<'NFT'
table ip dind-netcfg {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr 172.17.0.0/16 oifname "eth0" counter masquerade
    ip saddr 10.1.2.0/23 oifname "eth0" counter masquerade
  }
}
table ip6 dind-netcfg {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip6 saddr fd00:dead:beef::/64 oifname "eth0" counter masquerade
  }
}
table ip nat {
  chain POSTROUTING {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr 172.18.0.0/16 oifname != "br-1" masquerade
    ip saddr 10.9.0.0/24 snat to 10.0.2.15
  }
  chain PREROUTING {
    type nat hook prerouting priority dstnat; policy accept;
    tcp dport 8080 dnat to 172.17.0.2:80
    tcp dport 53 redirect to :5353
  }
}
table inet filter {
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
  }
}
NFT

rm -f corpus/rtnl/kernel_* corpus/nft/kernel_*
in_ns python3 - <<'PY'
import os, socket, struct

NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_DONE = 3

def dump(proto, msg_type, payload, flags=NLM_F_REQUEST | NLM_F_DUMP):
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, proto)
    sock.bind((0, 0))
    sock.send(struct.pack("=IHHII", 16 + len(payload), msg_type, flags, 1, 0) + payload)
    messages = []
    while True:
        data = sock.recv(1 << 20)
        offset, done = 0, False
        while offset + 16 <= len(data):
            length, kind = struct.unpack_from("=IH", data, offset)
            if kind == NLMSG_DONE or kind == 2:  # done or error
                done = True
                break
            messages.append(data[offset:offset + length])
            offset += (length + 3) & ~3
        if done or not flags & NLM_F_DUMP:
            break
    sock.close()
    return messages

def save(directory, prefix, messages):
    for i, message in enumerate(messages):
        with open(f"corpus/{directory}/kernel_{prefix}_{i}", "wb") as f:
            f.write(message)

def pad(message):
    return message + b"\0" * (-len(message) % 4)

# rtnetlink: RTM_GETLINK 18, RTM_GETADDR 22, RTM_GETROUTE 26 (dumps of all families).
links = dump(socket.NETLINK_ROUTE, 18, struct.pack("=BxHiII", 0, 0, 0, 0, 0))
addresses = dump(socket.NETLINK_ROUTE, 22, struct.pack("=BBBBI", 0, 0, 0, 0, 0))
routes = dump(socket.NETLINK_ROUTE, 26, struct.pack("=BBBBBBBBI", 0, 0, 0, 0, 0, 0, 0, 0, 0))
save("rtnl", "link", links)
save("rtnl", "addr", addresses)
save("rtnl", "route", routes)
with open("corpus/rtnl/kernel_full_dump", "wb") as f:
    f.write(b"".join(pad(m) for m in links + addresses + routes))

# nf_tables: subsystem 10; GETTABLE 1, GETCHAIN 4, GETRULE 7, GETGEN 16; nfgenmsg family 0.
NETLINK_NETFILTER = 12
nfgen = struct.pack("=BBH", 0, 0, 0)
tables = dump(NETLINK_NETFILTER, (10 << 8) | 1, nfgen)
chains = dump(NETLINK_NETFILTER, (10 << 8) | 4, nfgen)
rules = dump(NETLINK_NETFILTER, (10 << 8) | 7, nfgen)
generation = dump(NETLINK_NETFILTER, (10 << 8) | 16, nfgen, NLM_F_REQUEST)
save("nft", "table", tables)
save("nft", "chain", chains)
save("nft", "rule", rules)
save("nft", "gen", generation)
with open("corpus/nft/kernel_full_dump", "wb") as f:
    f.write(b"".join(pad(m) for m in generation + tables + chains + rules))

# A refused batch: a rule for a table that does not exist. The kernel answers with an extended
# ACK, echoing the request unless NETLINK_CAP_ACK is set (the backend sets it).
def attr(kind, value):
    return pad(struct.pack("=HH", 4 + len(value), kind) + value)

def refused_batch_acks(cap_ack):
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.bind((0, 0))
    sock.setsockopt(270, 11, 1)  # SOL_NETLINK, NETLINK_EXT_ACK
    sock.setsockopt(270, 10, 1 if cap_ack else 0)  # NETLINK_CAP_ACK
    def message(kind, flags, seq, payload):
        return struct.pack("=IHHII", 16 + len(payload), kind, flags, seq, 0) + payload
    batch_gen = struct.pack("=BBH", 0, 0, socket.htons(10))  # res_id: NFNL_SUBSYS_NFTABLES
    rule = struct.pack("=BBH", 2, 0, 0) + attr(1, b"no-such-table\0") + attr(2, b"postrouting\0")
    sock.send(message(0x10, NLM_F_REQUEST, 1, batch_gen) +  # NFNL_MSG_BATCH_BEGIN
              message((10 << 8) | 6, NLM_F_REQUEST | 0x4 | 0x400, 2, rule) +  # NEWRULE, ACK|CREATE
              message(0x11, NLM_F_REQUEST, 3, batch_gen))  # NFNL_MSG_BATCH_END
    data = sock.recv(1 << 16)
    sock.close()
    return [data]

save("nft", "ack_echo", refused_batch_acks(False))
save("nft", "ack_capped", refused_batch_acks(True))
PY
ls corpus/rtnl corpus/nft | wc -l
