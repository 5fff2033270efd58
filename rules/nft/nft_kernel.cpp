// SPDX-License-Identifier: Apache-2.0
#include "rules/nft/nft_kernel.h"

#include <linux/netfilter/nf_tables.h>

#include <cerrno>

namespace dind::rules::nft {
namespace {

// A busy ruleset (kube-proxy, docker) may change under a dump; nft itself retries too.
constexpr int kReadAttempts = 5;

template <typename Record>
Status AppendParsed(Result<Record> parsed, std::vector<Record>& out) {
  if (!parsed.ok()) return parsed.error();
  out.push_back(std::move(parsed).value());
  return OkStatus();
}

}  // namespace

Result<std::uint32_t> NetlinkNftKernel::ReadGeneration() {
  const std::uint32_t seq = socket_.ReserveSeq(1);
  std::vector<char> request = BuildGenerationRequest(seq);
  std::optional<std::uint32_t> generation;
  Status status = socket_.Request(request, seq, [&](const nlmsghdr* message) -> Status {
    Result<std::uint32_t> parsed = ParseGenerationMessage(message);
    if (!parsed.ok()) return parsed.error();
    generation = *parsed;
    return OkStatus();
  });
  if (!status.ok()) return DumpRefusal("ruleset generation", status.error().errnum);
  if (!generation) {
    return Error::Environment("reading nf_tables ruleset generation: the kernel sent no reply",
                              EPROTO);
  }
  return *generation;
}

Result<NftRuleset> NetlinkNftKernel::ReadRulesetOnce(RuleScope scope) {
  NftRuleset ruleset;
  Result<std::uint32_t> generation = ReadGeneration();
  if (!generation.ok()) return generation.error();
  ruleset.generation = *generation;

  struct Dump {
    std::function<std::vector<char>(std::uint32_t seq)> request;
    const char* what;
    std::function<Status(const nlmsghdr*)> on_message;
  };
  const auto all = [](std::uint16_t type) {
    return [type](std::uint32_t seq) { return BuildDumpRequest(type, seq); };
  };
  const auto ours = [](Family family) {
    return [family](std::uint32_t seq) { return BuildOurRulesDumpRequest(family, seq); };
  };
  const auto on_table = [&](const nlmsghdr* m) {
    return AppendParsed(ParseTableMessage(m), ruleset.tables);
  };
  const auto on_chain = [&](const nlmsghdr* m) {
    return AppendParsed(ParseChainMessage(m), ruleset.chains);
  };
  const auto on_rule = [&](const nlmsghdr* m) {
    return AppendParsed(ParseRuleMessage(m), ruleset.rules);
  };
  std::vector<Dump> dumps = {{all(NFT_MSG_GETTABLE), "tables", on_table},
                             {all(NFT_MSG_GETCHAIN), "chains", on_chain}};
  if (scope == RuleScope::kAllRules) {
    dumps.push_back({all(NFT_MSG_GETRULE), "rules", on_rule});
  } else {
    dumps.push_back({ours(Family::kIPv4), "rules of table ip dind-netcfg", on_rule});
    dumps.push_back({ours(Family::kIPv6), "rules of table ip6 dind-netcfg", on_rule});
  }
  for (const Dump& dump : dumps) {
    const std::uint32_t seq = socket_.ReserveSeq(1);
    Status status = socket_.Request(dump.request(seq), seq, dump.on_message);
    if (!status.ok()) {
      if (status.error().errnum == EINTR) return status.error();  // retried by the caller
      return DumpRefusal(dump.what, status.error().errnum);
    }
  }

  Result<std::uint32_t> after = ReadGeneration();
  if (!after.ok()) return after.error();
  if (*after != ruleset.generation) {
    return Error::Environment("nf_tables ruleset changed while reading it", EINTR);
  }
  return ruleset;
}

Result<NftRuleset> NetlinkNftKernel::ReadRuleset(RuleScope scope) {
  for (int attempt = 1;; ++attempt) {
    Result<NftRuleset> ruleset = ReadRulesetOnce(scope);
    if (ruleset.ok() || ruleset.error().errnum != EINTR) return ruleset;
    if (attempt == kReadAttempts) {
      return ruleset.error().Wrap("reading nf_tables ruleset (" + std::to_string(kReadAttempts) +
                                  " attempts, it kept changing)");
    }
  }
}

Status NetlinkNftKernel::Commit(const std::vector<NftOp>& ops, std::uint32_t generation) {
  if (ops.empty()) return OkStatus();
  const std::uint32_t first_seq = socket_.ReserveSeq(static_cast<std::uint32_t>(ops.size() + 2));
  const NftBatch batch = BuildBatch(ops, first_seq, generation);
  Result<BatchOutcome> outcome = socket_.Commit(batch);
  if (!outcome.ok()) return outcome.error();
  if (outcome->ok) return OkStatus();
  const NftOp* failed = outcome->failed_op ? &ops[*outcome->failed_op] : nullptr;
  return KernelRefusal(failed, outcome->errnum, outcome->kernel_message);
}

}  // namespace dind::rules::nft
