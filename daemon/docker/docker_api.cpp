// SPDX-License-Identifier: Apache-2.0
#include "daemon/docker/docker_api.h"

#include <charconv>
#include <exception>
#include <nlohmann/json.hpp>
#include <utility>

namespace dind::docker {
namespace {

using nlohmann::json;

constexpr std::string_view kNotDockerHint =
    "check that --docker-socket points at dockerd's API socket";

// The member `key` of `object` when `object` is an object that has it, else nullptr.
const json* Member(const json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  const auto found = object.find(key);
  return found == object.end() ? nullptr : &*found;
}

std::string StringMember(const json& object, std::string_view key) {
  const json* member = Member(object, key);
  return member != nullptr && member->is_string() ? member->get<std::string>() : std::string();
}

bool BoolMember(const json& object, std::string_view key) {
  const json* member = Member(object, key);
  return member != nullptr && member->is_boolean() && member->get<bool>();
}

// Parses `text` as JSON; the error says where the text stopped being JSON.
Result<json> ParseJson(std::string_view text, const std::string& what) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& error) {
    return Error::Environment(what + " is not JSON (invalid at byte " + std::to_string(error.byte) +
                                  " of " + std::to_string(text.size()) + ")",
                              std::string(kNotDockerHint));
  } catch (const std::exception& error) {
    return Error::Environment(what + " could not be read: " + error.what(),
                              std::string(kNotDockerHint));
  }
}

// ParseJson, and the document must be of `type` (`expected` names it for the error).
Result<json> ParseJsonOf(std::string_view text, const std::string& what, json::value_t type,
                         std::string_view expected) {
  auto document = ParseJson(text, what);
  if (!document) return document.error();
  if (document->type() != type) {
    return Error::Environment(what + " is a JSON " + std::string(document->type_name()) + ", not " +
                                  std::string(expected),
                              std::string(kNotDockerHint));
  }
  return document;
}

// Bad addresses in dockerd's answer are the environment's fault, not the user's input.
Error FromDockerd(Error error, const std::string& context) {
  Error wrapped = error.Wrap(context);
  wrapped.kind = ErrorKind::kEnvironment;
  return wrapped;
}

std::string Describe(const std::string& name, const std::string& id) {
  return "network " + name + " (" + id.substr(0, 12) + ")";
}

Result<Mtu> ParseMtu(const json& value, const std::string& network) {
  const std::string problem = network + ": option " + std::string(kMtuOption) + " is ";
  const std::string expected = ", not an MTU (a whole number from " + std::to_string(kLowestMtu) +
                               " to " + std::to_string(kHighestMtu) + ")";
  if (!value.is_string()) return Error::Environment(problem + value.dump() + expected);
  const std::string text = value.get<std::string>();
  Mtu mtu = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), mtu);
  if (error != std::errc() || end != text.data() + text.size() || mtu < kLowestMtu ||
      mtu > kHighestMtu) {
    return Error::Environment(problem + "\"" + text + "\"" + expected);
  }
  return mtu;
}

Status ParseIpam(const json& network_json, const std::string& network, DockerNetwork& out) {
  const json* ipam = Member(network_json, "IPAM");
  const json* config = ipam != nullptr ? Member(*ipam, "Config") : nullptr;
  if (config == nullptr || config->is_null()) return OkStatus();
  if (!config->is_array()) {
    return Error::Environment(network + ": IPAM.Config is " + std::string(config->type_name()) +
                              ", not a list");
  }
  for (const json& entry : *config) {
    const std::string subnet = StringMember(entry, "Subnet");
    if (!subnet.empty()) {
      auto cidr = Cidr::Parse(subnet);
      if (!cidr) return FromDockerd(cidr.error(), network + ": IPAM subnet \"" + subnet + "\"");
      out.subnets.push_back(*cidr);
    }
    std::string gateway = StringMember(entry, "Gateway");
    if (!gateway.empty()) {
      gateway = gateway.substr(0, gateway.find('/'));  // some versions write "172.18.0.1/16"
      auto address = IpAddress::Parse(gateway);
      if (!address) {
        return FromDockerd(address.error(), network + ": IPAM gateway \"" + gateway + "\"");
      }
      out.gateways.push_back(*address);
    }
  }
  return OkStatus();
}

Result<DockerNetwork> ParseNetwork(const json& network_json, std::size_t index) {
  const std::string position = "network #" + std::to_string(index + 1);
  if (!network_json.is_object()) return Error::Environment(position + " is not a JSON object");
  DockerNetwork network;
  network.id = StringMember(network_json, "Id");
  network.name = StringMember(network_json, "Name");
  if (network.id.empty()) return Error::Environment(position + " has no Id");
  if (network.name.empty()) return Error::Environment(position + " has no Name");
  const std::string described = Describe(network.name, network.id);
  network.driver = StringMember(network_json, "Driver");
  network.internal = BoolMember(network_json, "Internal");
  network.enable_ipv6 = BoolMember(network_json, "EnableIPv6");
  DIND_RETURN_IF_ERROR(ParseIpam(network_json, described, network));

  const json* options = Member(network_json, "Options");
  if (const json* mtu = options != nullptr ? Member(*options, kMtuOption) : nullptr) {
    auto parsed = ParseMtu(*mtu, described);
    if (!parsed) return parsed.error();
    network.mtu = *parsed;
  }
  if (network.driver == "bridge") {
    const std::string option =
        options != nullptr ? StringMember(*options, kBridgeNameOption) : std::string();
    network.bridge_name = !option.empty() ? option : "br-" + network.id.substr(0, 12);
  }
  return network;
}

NetworkAction ActionOf(std::string_view action) {
  if (action == "create") return NetworkAction::kCreate;
  if (action == "destroy") return NetworkAction::kDestroy;
  if (action == "connect") return NetworkAction::kConnect;
  if (action == "disconnect") return NetworkAction::kDisconnect;
  return NetworkAction::kOther;
}

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    }
  }
  return out;
}

}  // namespace

Result<std::vector<DockerNetwork>> ParseNetworks(std::string_view text, std::string_view source) {
  const std::string what = "the network list from " + std::string(source);
  auto document = ParseJsonOf(text, what, json::value_t::array, "a list of networks");
  if (!document) return document.error();
  std::vector<DockerNetwork> networks;
  networks.reserve(document->size());
  try {
    for (std::size_t i = 0; i < document->size(); ++i) {
      auto network = ParseNetwork((*document)[i], i);
      if (!network) return network.error().Wrap(what);
      networks.push_back(std::move(*network));
    }
  } catch (const std::exception& error) {  // nlohmann's type errors; the checks above avoid them
    return Error::Environment(what + " could not be read: " + error.what());
  }
  return networks;
}

Result<DockerInfo> ParseInfo(std::string_view text, std::string_view source) {
  const std::string what = "the system information (GET /info) from " + std::string(source);
  auto document = ParseJsonOf(text, what, json::value_t::object, "an object");
  if (!document) return document.error();
  DockerInfo info;
  info.server_version = StringMember(*document, "ServerVersion");
  info.ipv4_forwarding = BoolMember(*document, "IPv4Forwarding");
  if (const json* firewall = Member(*document, "FirewallBackend")) {
    const std::string driver = StringMember(*firewall, "Driver");
    if (!driver.empty()) info.firewall_driver = driver;
  }
  if (const json* warnings = Member(*document, "Warnings"); warnings && warnings->is_array()) {
    for (const json& warning : *warnings) {
      if (warning.is_string()) info.warnings.push_back(warning.get<std::string>());
    }
  }
  return info;
}

Result<std::optional<NetworkEvent>> ParseEvent(std::string_view text, std::string_view source) {
  const std::string what = "an event from " + std::string(source);
  auto document = ParseJsonOf(text, what, json::value_t::object, "an object");
  if (!document) return document.error();
  try {
    if (StringMember(*document, "Type") != "network") return std::optional<NetworkEvent>();
    NetworkEvent event;
    event.action_text = StringMember(*document, "Action");
    event.action = ActionOf(event.action_text);
    const json* actor = Member(*document, "Actor");
    if (actor == nullptr) return std::optional<NetworkEvent>();
    event.network_id = StringMember(*actor, "ID");
    if (event.network_id.empty()) return std::optional<NetworkEvent>();
    if (const json* attributes = Member(*actor, "Attributes")) {
      event.network_name = StringMember(*attributes, "name");
      event.driver = StringMember(*attributes, "type");
      event.container_id = StringMember(*attributes, "container");
    }
    const json* nanos = Member(*document, "timeNano");
    const json* seconds = Member(*document, "time");
    if (nanos != nullptr && nanos->is_number_integer()) {
      event.time_nano = nanos->get<std::int64_t>();
    } else if (seconds != nullptr && seconds->is_number_integer()) {
      const auto value = seconds->get<std::int64_t>();
      // Out-of-range times would overflow the multiplication; they are left at 0.
      if (value >= 0 && value < std::int64_t{9'000'000'000})
        event.time_nano = value * 1'000'000'000;
    }
    return std::optional<NetworkEvent>(std::move(event));
  } catch (const std::exception& error) {
    return Error::Environment(what + " could not be read: " + error.what());
  }
}

std::string ErrorMessageOf(std::string_view body) {
  try {
    const json document = json::parse(body);
    const std::string message = StringMember(document, "message");
    if (!message.empty()) return message;
  } catch (const std::exception&) {
    // not JSON: show the text itself
  }
  std::string text(body.substr(0, 200));
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  if (text.empty()) return "(empty body)";
  return body.size() > 200 ? text + "..." : text;
}

std::string NetworksTarget(std::string_view api_prefix) {
  return std::string(api_prefix) + "/networks";
}

std::string InfoTarget(std::string_view api_prefix) {
  return std::string(api_prefix) + "/info";
}

std::string EventsTarget(std::string_view api_prefix) {
  return std::string(api_prefix) + "/events?filters=" + PercentEncode(R"({"type":["network"]})");
}

std::string BuildGetRequest(std::string_view target) {
  return "GET " + std::string(target) +
         " HTTP/1.1\r\n"
         "Host: docker\r\n"
         "User-Agent: dind-netcfg\r\n"
         "Accept: application/json\r\n"
         "Connection: close\r\n"
         "\r\n";
}

Result<std::vector<std::string>> JsonObjectSplitter::Feed(std::string_view bytes) {
  std::vector<std::string> objects;
  for (const char c : bytes) {
    if (closers_.empty()) {
      if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
      if (c != '{') {
        const auto byte = static_cast<unsigned>(static_cast<unsigned char>(c));
        return Error::Environment("the event stream has byte " + std::to_string(byte) +
                                      " where a JSON object should start",
                                  std::string(kNotDockerHint));
      }
      closers_ = "}";
      current_ = "{";
      continue;
    }
    current_ += c;
    if (current_.size() > max_object_bytes_) {
      return Error::Environment(
          "an event in the stream is longer than " + std::to_string(max_object_bytes_) + " bytes",
          std::string(kNotDockerHint));
    }
    if (in_string_) {
      if (escaped_) {
        escaped_ = false;
      } else if (c == '\\') {
        escaped_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
      continue;
    }
    if (c == '"') {
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      closers_ += c == '{' ? '}' : ']';
    } else if (c == '}' || c == ']') {
      // A mismatched bracket would end the "object" in the middle of something else.
      if (c != closers_.back()) {
        return Error::Environment(std::string("the event stream has '") + c + "' where '" +
                                      closers_.back() + "' should close a bracket",
                                  std::string(kNotDockerHint));
      }
      closers_.pop_back();
      if (closers_.empty()) {
        objects.push_back(std::move(current_));
        current_.clear();
      }
    }
  }
  return objects;
}

void JsonObjectSplitter::Reset() {
  current_.clear();
  closers_.clear();
  in_string_ = false;
  escaped_ = false;
}

}  // namespace dind::docker
