// SPDX-License-Identifier: Apache-2.0
#include "rules/proof/proof_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <nlohmann/json.hpp>
#include <utility>

#include "common/files.h"
#include "common/log.h"
#include "netcfg/daemon_json/atomic_file.h"

namespace dind::rules {
namespace {

using Json = nlohmann::ordered_json;
using rules::BackendKind;

constexpr std::string_view kBootIdPath = "/proc/sys/kernel/random/boot_id";

std::string Trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// The file helpers' hints are about daemon.json; the cache's warnings give their own fix.
std::string WithoutHint(Error error) {
  error.hint.clear();
  return error.Message();
}

std::string UtcNow() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "an unknown host";
  return name;
}

Json EntryToJson(const CachedProof& entry) {
  const rules::ProofOutcome& outcome = entry.outcome;
  const rules::ProofOutcome::Reuse provenance =
      outcome.reused.value_or(rules::ProofOutcome::Reuse{});
  return Json{{"availability", netcfg::AvailabilityName(entry.availability)},
              {"passed", outcome.passed},
              {"counter_packets", outcome.counter_packets},
              {"arrived", outcome.arrived},
              {"masqueraded", outcome.masqueraded},
              {"rule_accepted", outcome.rule_accepted},
              {"arrived_from", outcome.arrived_from},
              {"detail", outcome.detail},
              {"elapsed_ms", outcome.elapsed.count()},
              {"proven_by", provenance.proven_by},
              {"proven_at", provenance.proven_at}};
}

Result<netcfg::Availability> ParseAvailability(const std::string& name) {
  for (auto availability :
       {netcfg::Availability::kYes, netcfg::Availability::kNo, netcfg::Availability::kUnknown}) {
    if (netcfg::AvailabilityName(availability) == name) return availability;
  }
  return Error::BadInput("availability \"" + name + "\" is not yes, no or unknown");
}

Result<CachedProof> EntryFromJson(const Json& json) {
  CachedProof entry;
  rules::ProofOutcome& outcome = entry.outcome;
  // nlohmann's exceptions name the missing key or the wrong type; they stay in this function.
  try {
    auto availability = ParseAvailability(json.at("availability").get<std::string>());
    if (!availability) return availability.error();
    entry.availability = *availability;
    outcome.passed = json.at("passed").get<bool>();
    outcome.counter_packets = json.at("counter_packets").get<std::uint64_t>();
    outcome.arrived = json.at("arrived").get<bool>();
    outcome.masqueraded = json.at("masqueraded").get<bool>();
    outcome.rule_accepted = json.at("rule_accepted").get<bool>();
    outcome.arrived_from = json.at("arrived_from").get<std::string>();
    outcome.detail = json.at("detail").get<std::string>();
    outcome.elapsed = std::chrono::milliseconds(json.at("elapsed_ms").get<std::int64_t>());
    outcome.reused = rules::ProofOutcome::Reuse{json.at("proven_by").get<std::string>(),
                                                json.at("proven_at").get<std::string>(), ""};
  } catch (const nlohmann::json::exception& error) {
    return Error::BadInput(error.what());
  }
  return entry;
}

class CachingProver final : public rules::BackendProver {
 public:
  CachingProver(std::unique_ptr<rules::BackendProver> inner, ProofCacheSettings settings,
                ProofIdentity identity, const netcfg::KernelFacts& kernel)
      : inner_(std::move(inner)),
        settings_(std::move(settings)),
        identity_(std::move(identity)),
        legacy_(kernel.ip_tables.available),
        nft_(kernel.nf_tables.available) {}

  Result<rules::ProofOutcome> Prove(BackendKind kind) override {
    ProofCacheFile file = Load();
    const netcfg::Availability availability = kind == BackendKind::kLegacy ? legacy_ : nft_;
    if (auto found = file.proofs.find(kind);
        found != file.proofs.end() && found->second.availability == availability) {
      rules::ProofOutcome outcome = found->second.outcome;
      outcome.reused->cache_path = settings_.path;
      log::Info("traffic proof reused: the kernel boot, release and backend are the same",
                {{"backend", std::string(rules::BackendName(kind))},
                 {"passed", outcome.passed ? "true" : "false"},
                 {"proven_by", outcome.reused->proven_by},
                 {"proven_at", outcome.reused->proven_at},
                 {"cache", settings_.path}});
      return outcome;
    }
    auto proven = inner_->Prove(kind);
    if (!proven) return proven;  // could not run: says nothing about the kernel, not kept
    CachedProof entry{availability, *proven};
    entry.outcome.reused = rules::ProofOutcome::Reuse{
        settings_.command + " (pid " + std::to_string(::getpid()) + ") on " + HostName(), UtcNow(),
        ""};
    file.identity = identity_;
    file.proofs[kind] = std::move(entry);
    Save(file);
    return proven;
  }

 private:
  // The entries of this identity; none when the file is absent, unreadable, malformed or
  // from another boot, release or version.
  ProofCacheFile Load() const {
    ProofCacheFile empty{identity_, {}};
    auto text = ReadFile(settings_.path);
    if (!text) {
      if (text.error().errnum != ENOENT) Ignoring(WithoutHint(text.error()));
      return empty;
    }
    auto file = ParseProofCache(*text);
    if (!file) {
      Ignoring(WithoutHint(file.error()));
      return empty;
    }
    return file->identity == identity_ ? std::move(file).value() : empty;
  }

  void Ignoring(const std::string& why) const {
    log::Warn("proof cache ignored; proving again and replacing it",
              {{"cache", settings_.path}, {"error", why}});
  }

  void Save(const ProofCacheFile& file) const {
    const std::string dir = settings_.path.substr(0, settings_.path.find_last_of('/') + 1);
    if (!dir.empty() && ::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      NotSaved(Error::FromErrno("creating " + dir).Message());
      return;
    }
    // Not flushed to disk: a cache lost in a crash costs one proof, and /run is memory anyway.
    if (auto written = netcfg::WriteFileAtomically(settings_.path, SerializeProofCache(file),
                                                   netcfg::Durability::kReplaceOnly);
        !written) {
      NotSaved(WithoutHint(written.error()));
    }
  }

  void NotSaved(const std::string& why) const {
    log::Warn("proof result not cached: the next run proves again",
              {{"cache", settings_.path},
               {"error", why},
               {"fix", "mount a writable directory there, or pass --proof-cache off"}});
  }

  std::unique_ptr<rules::BackendProver> inner_;
  ProofCacheSettings settings_;
  ProofIdentity identity_;
  netcfg::Availability legacy_;
  netcfg::Availability nft_;
};

}  // namespace

Result<ProofIdentity> ReadProofIdentity(const netcfg::KernelFacts& kernel) {
  auto boot_id = ReadFile(std::string(kBootIdPath));
  if (!boot_id) return boot_id.error().Wrap("reading the kernel's boot id");
  return ProofIdentity{Trimmed(std::move(boot_id).value()), kernel.release, DIND_NETCFG_VERSION};
}

std::string SerializeProofCache(const ProofCacheFile& file) {
  Json proofs = Json::object();
  for (const auto& [kind, entry] : file.proofs) {
    proofs[std::string(rules::BackendName(kind))] = EntryToJson(entry);
  }
  const Json json{{"about",
                   "dind-netcfg's traffic proofs, reused on the same kernel boot "
                   "(rules/proof/proof_cache.h); delete the file to prove again"},
                  {"boot_id", file.identity.boot_id},
                  {"kernel_release", file.identity.kernel_release},
                  {"dind_netcfg_version", file.identity.tool_version},
                  {"proofs", std::move(proofs)}};
  return json.dump(2) + "\n";
}

Result<ProofCacheFile> ParseProofCache(std::string_view text) {
  const Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return Error::BadInput("the proof cache is not a JSON object");
  }
  ProofCacheFile file;
  try {
    file.identity = {json.at("boot_id").get<std::string>(),
                     json.at("kernel_release").get<std::string>(),
                     json.at("dind_netcfg_version").get<std::string>()};
    for (const auto& [name, value] : json.at("proofs").items()) {
      const std::optional<BackendKind> kind = rules::ParseBackendName(name);
      if (!kind) return Error::BadInput("proofs." + name + ": not a backend (legacy or nft)");
      auto entry = EntryFromJson(value);
      if (!entry) return entry.error().Wrap("proofs." + name);
      file.proofs[*kind] = std::move(entry).value();
    }
  } catch (const nlohmann::json::exception& error) {
    return Error::BadInput(error.what());
  }
  return file;
}

std::unique_ptr<rules::BackendProver> MakeCachingProver(std::unique_ptr<rules::BackendProver> inner,
                                                        ProofCacheSettings settings,
                                                        ProofIdentity identity,
                                                        const netcfg::KernelFacts& kernel) {
  return std::make_unique<CachingProver>(std::move(inner), std::move(settings), std::move(identity),
                                         kernel);
}

}  // namespace dind::rules
