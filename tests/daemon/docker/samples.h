// SPDX-License-Identifier: Apache-2.0
// Answers of dockerd. The real ones are files in releases/<version>/ (info.json, version.json,
// networks.json), recorded by tests/e2e/release_e2e_test.sh from each release the suite runs
// (releases/README.md); the bodies written here are what no release of ours can answer: the
// edge cases of a network list, the event stream, and /info of versions not fetched.
#pragma once

#include <array>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

namespace dind::docker::samples {

// The releases whose answers were recorded, oldest first: Debian 12's docker.io, Debian 13's
// and Debian unstable's at the time of recording.
inline constexpr std::array<std::string_view, 3> kRecordedReleases = {"20.10.24", "26.1.5",
                                                                      "28.5.2"};

// The recorded body of GET /FILE ("info", "version", "networks") of dockerd RELEASE; empty
// when the file cannot be read (the test comparing it then fails on that).
inline std::string Recorded(std::string_view release, std::string_view file) {
  const std::string path = std::string(DIND_SOURCE_DIR) + "/tests/daemon/docker/releases/" +
                           std::string(release) + "/" + std::string(file) + ".json";
  std::ifstream in(path);
  std::ostringstream body;
  body << in.rdbuf();
  return body.str();
}

// GET /networks, written (the recorded lists have no such networks): the default bridge
// (docker0, MTU option set by daemon.json's "mtu"), host and none, KIND's dual-stack "kind"
// network, and a network whose IPAM config is null. As a real dockerd 20.10 does without "bip"
// (see docker_api_e2e_test.sh), it leaves out the Gateway of the default bridge and of subnets
// given on `docker network create`; only allocated subnets carry one.
inline constexpr std::string_view kNetworks = R"([
  {
    "Name": "bridge",
    "Id": "f2de39df4171b0dc801e8002d1d999b77256983dfc63041c0f34030aa3977566",
    "Created": "2023-11-14T09:12:01.413263116Z",
    "Scope": "local",
    "Driver": "bridge",
    "EnableIPv6": false,
    "IPAM": {
      "Driver": "default",
      "Options": null,
      "Config": [{"Subnet": "172.17.0.0/16"}]
    },
    "Internal": false,
    "Attachable": false,
    "Ingress": false,
    "ConfigFrom": {"Network": ""},
    "ConfigOnly": false,
    "Containers": {},
    "Options": {
      "com.docker.network.bridge.default_bridge": "true",
      "com.docker.network.bridge.enable_icc": "true",
      "com.docker.network.bridge.enable_ip_masquerade": "true",
      "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
      "com.docker.network.bridge.name": "docker0",
      "com.docker.network.driver.mtu": "1450"
    },
    "Labels": {}
  },
  {
    "Name": "host",
    "Id": "8a2b5c1e0d9f4e7a6b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a",
    "Created": "2023-11-14T09:12:01.390114455Z",
    "Scope": "local",
    "Driver": "host",
    "EnableIPv6": false,
    "IPAM": {"Driver": "default", "Options": null, "Config": []},
    "Internal": false,
    "Attachable": false,
    "Ingress": false,
    "ConfigFrom": {"Network": ""},
    "ConfigOnly": false,
    "Containers": {},
    "Options": {},
    "Labels": {}
  },
  {
    "Name": "kind",
    "Id": "3c9f1e2d4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "Created": "2023-11-14T09:30:44.106712829Z",
    "Scope": "local",
    "Driver": "bridge",
    "EnableIPv6": true,
    "IPAM": {
      "Driver": "default",
      "Options": {},
      "Config": [
        {"Subnet": "172.18.0.0/16", "Gateway": "172.18.0.1"},
        {"Subnet": "fc00:f853:ccd:e793::/64"}
      ]
    },
    "Internal": false,
    "Attachable": false,
    "Ingress": false,
    "ConfigFrom": {"Network": ""},
    "ConfigOnly": false,
    "Containers": {
      "b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2": {
        "Name": "kind-control-plane",
        "EndpointID": "5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f",
        "MacAddress": "02:42:ac:12:00:02",
        "IPv4Address": "172.18.0.2/16",
        "IPv6Address": "fc00:f853:ccd:e793::2/64"
      }
    },
    "Options": {
      "com.docker.network.bridge.enable_ip_masquerade": "true",
      "com.docker.network.driver.mtu": "1500"
    },
    "Labels": {}
  },
  {
    "Name": "none",
    "Id": "0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7",
    "Created": "2023-11-14T09:12:01.378009201Z",
    "Scope": "local",
    "Driver": "null",
    "EnableIPv6": false,
    "IPAM": {"Driver": "default", "Options": null, "Config": []},
    "Internal": false,
    "Attachable": false,
    "Ingress": false,
    "ConfigFrom": {"Network": ""},
    "ConfigOnly": false,
    "Containers": {},
    "Options": {},
    "Labels": {}
  },
  {
    "Name": "build-cache",
    "Id": "7d8e9fa0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8",
    "Created": "2023-11-14T10:01:13.901238812Z",
    "Scope": "local",
    "Driver": "bridge",
    "EnableIPv6": false,
    "IPAM": {"Driver": "default", "Options": null, "Config": null},
    "Internal": true,
    "Attachable": false,
    "Ingress": false,
    "ConfigFrom": {"Network": ""},
    "ConfigOnly": false,
    "Containers": {},
    "Options": null,
    "Labels": {"com.example.purpose": "cache"}
  }
])";

// GET /events?filters={"type":["network"]}: what `docker network create x`, `docker run --network
// x`, container exit and `docker network rm x` produce, one object per line.
inline constexpr std::string_view kCreateEvent =
    R"({"Type":"network","Action":"create","Actor":{"ID":"9a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9","Attributes":{"name":"ci-net","type":"bridge"}},"scope":"local","time":1699955123,"timeNano":1699955123456789012})";
inline constexpr std::string_view kConnectEvent =
    R"({"Type":"network","Action":"connect","Actor":{"ID":"9a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9","Attributes":{"container":"c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00","name":"ci-net","type":"bridge"}},"scope":"local","time":1699955124,"timeNano":1699955124000000001})";
inline constexpr std::string_view kDisconnectEvent =
    R"({"Type":"network","Action":"disconnect","Actor":{"ID":"9a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9","Attributes":{"container":"c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00","name":"ci-net","type":"bridge"}},"scope":"local","time":1699955130,"timeNano":1699955130000000002})";
inline constexpr std::string_view kDestroyEvent =
    R"({"Type":"network","Action":"destroy","Actor":{"ID":"9a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9","Attributes":{"name":"ci-net","type":"bridge"}},"scope":"local","time":1699955131,"timeNano":1699955131000000003})";
// A container event (what an unfiltered stream also carries).
inline constexpr std::string_view kContainerEvent =
    R"({"status":"start","id":"c0ffee00c0ffee00","from":"busybox","Type":"container","Action":"start","Actor":{"ID":"c0ffee00c0ffee00","Attributes":{"image":"busybox","name":"x"}},"scope":"local","time":1699955124,"timeNano":1699955124100000000})";

// GET /info of the versions no release of ours has, written after the Engine API reference
// of their version with the fields dind-netcfg reads where that version puts them (the real
// 20.10.24, 26.1.5 and 28.5.2 bodies are Recorded()):
//   24.0, 27.3  no FirewallBackend (added with API 1.49, Docker 28.2);
//   29.0        FirewallBackend nftables (daemon.json "firewall-backend": "nftables") with IPv4
//               forwarding off, which that driver does not turn on.
inline constexpr std::string_view kInfo24 =
    R"json({"ID":"b7b6bd9e-4b6e-4bb5-9f3e-2c6c1d7e9a10","Containers":2,"Driver":"overlay2","IPv4Forwarding":true,"BridgeNfIptables":true,"BridgeNfIp6tables":true,"CgroupDriver":"cgroupfs","CgroupVersion":"2","KernelVersion":"5.15.0-91-generic","OperatingSystem":"Alpine Linux v3.18 (containerized)","OSType":"linux","Architecture":"x86_64","ServerVersion":"24.0.7","DefaultAddressPools":[{"Base":"172.31.0.0/16","Size":24}],"Warnings":null})json";
inline constexpr std::string_view kInfo27 =
    R"json({"ID":"4a2f7c1e-0d7b-4a3e-8a55-9f1e2d3c4b5a","Containers":0,"Driver":"overlay2","IPv4Forwarding":true,"BridgeNfIptables":false,"BridgeNfIp6tables":false,"CgroupDriver":"cgroupfs","CgroupVersion":"2","KernelVersion":"6.1.0-18-amd64","OperatingSystem":"Alpine Linux v3.20 (containerized)","OSType":"linux","Architecture":"x86_64","ServerVersion":"27.3.1","Warnings":["WARNING: bridge-nf-call-iptables is disabled","WARNING: bridge-nf-call-ip6tables is disabled"]})json";
inline constexpr std::string_view kInfo29Nftables =
    R"json({"ID":"9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b","Containers":0,"Driver":"overlay2","IPv4Forwarding":false,"BridgeNfIptables":false,"BridgeNfIp6tables":false,"CgroupDriver":"cgroupfs","CgroupVersion":"2","KernelVersion":"6.12.0-1-amd64","OperatingSystem":"Alpine Linux v3.22 (containerized)","OSType":"linux","Architecture":"x86_64","ServerVersion":"29.0.1","FirewallBackend":{"Driver":"nftables"},"Warnings":["WARNING: IPv4 forwarding is disabled. Networking will not work."]})json";

}  // namespace dind::docker::samples
