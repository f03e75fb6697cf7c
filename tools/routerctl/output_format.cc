#include "tools/routerctl/output_format.h"

#include <google/protobuf/util/json_util.h>

#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/proto_time.h"
#include "tools/routerctl/service_clients.h"
#include "tools/routerctl/text_table.h"

namespace llmrouter::routerctl {
namespace {

namespace v1 = llmrouter::v1;

constexpr size_t kHashDigits = 12;
constexpr size_t kMaxCellChars = 48;

// Lower-case enum value name without its type prefix.
std::string EnumWord(const std::string& name, absl::string_view prefix) {
  absl::string_view word = name;
  if (word.empty()) return "unknown";
  absl::ConsumePrefix(&word, prefix);
  return absl::AsciiStrToLower(word);
}

std::string Clip(absl::string_view text, size_t max = kMaxCellChars) {
  std::string one_line(text);
  for (char& c : one_line) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  if (one_line.size() <= max) return one_line;
  return absl::StrCat(one_line.substr(0, max - 3), "...");
}

std::string Time(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%SZ", absl::FromUnixSeconds(ts.seconds()),
                          absl::UTCTimeZone());
}

std::string Usd(double usd) { return absl::StrFormat("$%.6f", usd); }

std::string Number(double value) { return absl::StrFormat("%g", value); }

std::string Score(double score) { return score == 0 ? "-" : absl::StrFormat("%.3f", score); }

std::string Plural(size_t n, absl::string_view one, absl::string_view many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

std::string TargetUrl(const v1::Target& t) {
  return absl::StrCat(t.scheme().empty() ? "http" : t.scheme(), "://", t.address());
}

std::string Placement(const v1::Target& t) {
  std::vector<std::string> parts;
  if (!t.region().empty()) parts.push_back(t.region());
  std::string pool_track = t.pool();
  if (!t.track().empty()) pool_track += (pool_track.empty() ? "" : "/") + t.track();
  if (!pool_track.empty()) parts.push_back(pool_track);
  return absl::StrJoin(parts, " ");
}

void AppendShares(const google::protobuf::RepeatedPtrField<v1::ModelShare>& shares, bool active,
                  std::map<std::string, std::vector<std::string>>* rows) {
  for (const v1::ModelShare& s : shares) {
    std::vector<std::string>& row = (*rows)[s.model()];
    row.resize(5, "-");
    row[0] = s.model();
    row[active ? 1 : 2] = absl::StrCat(s.requests());
    row[active ? 3 : 4] = Usd(s.estimated_cost_usd());
  }
}

}  // namespace

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  std::string json;
  auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) return absl::StrCat("{\"error\": \"", status.ToString(), "\"}\n");
  if (json.empty() || json.back() != '\n') json += '\n';
  return json;
}

std::string StageName(v1::CandidateStage stage) {
  return EnumWord(v1::CandidateStage_Name(stage), "CANDIDATE_STAGE_");
}

std::string HealthName(v1::HealthState health) {
  return EnumWord(v1::HealthState_Name(health), "HEALTH_STATE_");
}

std::string FormatRevisionSummary(const v1::PolicyRevision& r) {
  std::string out =
      absl::StrCat("revision ", r.revision(), " (sha256 ", r.content_hash().substr(0, kHashDigits));
  if (!r.author().empty()) absl::StrAppend(&out, ", by ", r.author());
  absl::StrAppend(&out, ", ", Time(r.created_at()));
  if (!r.comment().empty()) absl::StrAppend(&out, ": \"", Clip(r.comment()), "\"");
  absl::StrAppend(&out, ")");
  return out;
}

std::string FormatPolicyStatus(absl::string_view target,
                               const std::vector<ReplicaPolicy>& replicas) {
  TextTable table({"REPLICA", "SHA256", "REV", "ACTIVATED", "AUTHOR", "COMMENT"});
  std::map<std::string, size_t> hashes;  // content hash -> replicas running it
  size_t silent = 0;
  for (const ReplicaPolicy& r : replicas) {
    if (!r.answered) {
      ++silent;
      table.AddRow({r.address, "-", "-", "-", "-", Clip(r.error)});
      continue;
    }
    const v1::PolicyRevision& rev = r.revision;
    ++hashes[rev.content_hash()];
    table.AddRow({r.address,
                  rev.content_hash().empty() ? "(none)" : rev.content_hash().substr(0, kHashDigits),
                  absl::StrCat(rev.revision()), Time(rev.created_at()), Clip(rev.author(), 24),
                  Clip(rev.comment())});
  }
  std::string out = table.Render();
  if (hashes.size() == 1 && silent == 0) {
    absl::StrAppend(&out, "all ", Plural(replicas.size(), "replica", "replicas"), " of ", target,
                    " run sha256 ", hashes.begin()->first.substr(0, kHashDigits), "\n");
  } else {
    if (hashes.size() > 1) {
      absl::StrAppend(&out, "replicas disagree: ", hashes.size(), " different bundles among ",
                      Plural(replicas.size() - silent, "replica", "replicas"), "\n");
    }
    if (silent > 0) {
      absl::StrAppend(&out, Plural(silent, "replica", "replicas"), " of ", replicas.size(),
                      " did not answer\n");
    }
  }
  return out;
}

std::string FormatRevisionTable(const std::vector<v1::PolicyRevision>& revisions) {
  if (revisions.empty()) return "no revisions\n";
  TextTable table({"REV", "ACTIVE", "CREATED", "AUTHOR", "SHA256", "COMMENT"});
  for (const v1::PolicyRevision& r : revisions) {
    table.AddRow({absl::StrCat(r.revision()), r.active() ? "*" : "", Time(r.created_at()),
                  Clip(r.author(), 24), r.content_hash().substr(0, kHashDigits),
                  Clip(r.comment())});
  }
  return table.Render();
}

std::string FormatValidation(absl::string_view source, const v1::ValidateBundleResponse& resp) {
  if (resp.valid() && resp.problems_size() == 0) return absl::StrCat(source, ": valid\n");
  std::string out = absl::StrCat(source, ": invalid, ",
                                 Plural(resp.problems_size(), "problem", "problems"), "\n");
  for (const v1::PolicyProblem& p : resp.problems()) {
    absl::StrAppend(&out, "  ", p.path().empty() ? "" : absl::StrCat(p.path(), ": "), p.message(),
                    "\n");
  }
  return out;
}

std::string FormatLint(absl::string_view source, const v1::LintBundleResponse& resp) {
  if (resp.findings_size() == 0) return absl::StrCat(source, ": no findings\n");
  size_t errors = 0;
  TextTable table({"SEVERITY", "PATH", "CHECK", "MESSAGE"});
  for (const v1::LintFinding& f : resp.findings()) {
    if (f.severity() == v1::LINT_SEVERITY_ERROR) ++errors;
    table.AddRow({EnumWord(v1::LintSeverity_Name(f.severity()), "LINT_SEVERITY_"),
                  f.path().empty() ? "-" : f.path(), f.check().empty() ? "-" : f.check(),
                  f.message()});
  }
  return absl::StrCat(table.Render(), source, ": ", Plural(errors, "error", "errors"), ", ",
                      Plural(resp.findings_size() - errors, "warning", "warnings"), "\n");
}

std::string FormatTestReport(const v1::TestBundleResponse& resp,
                             const std::vector<int>& request_lines) {
  std::string out;
  if (resp.tests_size() > 0) {
    size_t failed = 0;
    TextTable table({"RESULT", "TEST", "EXPECTED", "ACTUAL", "DETAIL"}, "  ");
    for (const v1::BundleTestResult& t : resp.tests()) {
      if (!t.passed()) ++failed;
      auto model_rule = [](const std::string& model, const std::string& rule) {
        return rule.empty() ? (model.empty() ? "-" : model) : absl::StrCat(model, " / ", rule);
      };
      table.AddRow({t.passed() ? "pass" : "FAIL", t.name(),
                    model_rule(t.expected_model(), t.expected_rule()),
                    model_rule(t.actual_model(), t.actual_rule()), Clip(t.detail(), 80)});
    }
    absl::StrAppend(&out, "bundle tests: ", resp.tests_size() - failed, " passed, ", failed,
                    " failed\n", table.Render());
  } else {
    absl::StrAppend(&out, "bundle tests: none declared\n");
  }
  if (resp.comparisons_size() == 0) return out;
  absl::StrAppend(&out, "\nrequests: ", resp.comparisons_size(), " routed, ", resp.changed(),
                  " changed",
                  resp.active_revision() == 0
                      ? " (no active revision)"
                      : absl::StrCat(" against active revision ", resp.active_revision()),
                  "\n");
  TextTable changes({"REQUEST", "ACTIVE", "CANDIDATE", "COST", "DETAIL"}, "  ");
  for (const v1::RouteComparison& c : resp.comparisons()) {
    if (!c.changed()) continue;
    std::string where = c.index() < request_lines.size()
                            ? absl::StrCat("line ", request_lines[c.index()])
                            : absl::StrCat("#", c.index());
    auto side = [](const std::string& model, const std::string& rule, const std::string& error) {
      if (!error.empty()) return std::string("error");
      return rule.empty() ? model : absl::StrCat(model, " / ", rule);
    };
    std::vector<std::string> errors;
    if (!c.active_error().empty()) errors.push_back("active: " + c.active_error());
    if (!c.candidate_error().empty()) errors.push_back("candidate: " + c.candidate_error());
    changes.AddRow({where, side(c.active_model(), c.active_rule(), c.active_error()),
                    side(c.candidate_model(), c.candidate_rule(), c.candidate_error()),
                    absl::StrCat(Usd(c.active_cost_usd()), " -> ", Usd(c.candidate_cost_usd())),
                    Clip(absl::StrJoin(errors, "; "), 80)});
  }
  if (changes.rows() > 0) out += changes.Render();
  std::map<std::string, std::vector<std::string>> rows;
  AppendShares(resp.active_distribution(), true, &rows);
  AppendShares(resp.candidate_distribution(), false, &rows);
  if (!rows.empty()) {
    TextTable dist({"MODEL", "ACTIVE", "CANDIDATE", "ACTIVE COST", "CANDIDATE COST"}, "  ");
    for (auto& [model, row] : rows) dist.AddRow(row);
    absl::StrAppend(&out, "\ndistribution:\n", dist.Render());
  }
  return out;
}

std::string FormatTrace(const v1::RouteTrace& trace) {
  std::string out;
  if (trace.rules_size() > 0) {
    TextTable rules({"RULE", "RESULT", "FAILED CONDITION"}, "  ");
    for (const v1::RuleEvaluation& r : trace.rules()) {
      rules.AddRow({r.rule(), r.matched() ? "matched" : "no", r.failed_condition()});
    }
    absl::StrAppend(&out, "rules:\n", rules.Render());
  }
  if (trace.candidates_size() > 0) {
    TextTable candidates({"MODEL", "ENDPOINT", "STAGE", "SCORE", "DETAIL"}, "  ");
    for (const v1::CandidateEvaluation& c : trace.candidates()) {
      candidates.AddRow({c.model(), c.endpoint_id().empty() ? "-" : c.endpoint_id(),
                         StageName(c.stage()), Score(c.score()), c.detail()});
    }
    absl::StrAppend(&out, "candidates:\n", candidates.Render());
  }
  if (trace.notes_size() > 0) {
    absl::StrAppend(&out, "notes:\n");
    for (const std::string& note : trace.notes()) absl::StrAppend(&out, "  ", note, "\n");
  }
  return out;
}

std::string FormatRoute(const v1::RouteRequestResponse& resp) {
  const v1::Target& t = resp.target();
  TextTable summary({"model", t.model()});
  if (!t.upstream_model().empty() && t.upstream_model() != t.model()) {
    summary.AddRow({"upstream", t.upstream_model()});
  }
  std::string placement = Placement(t);
  summary.AddRow({"endpoint", absl::StrCat(t.endpoint_id(), "  ", TargetUrl(t),
                                           placement.empty() ? "" : "  " + placement)});
  summary.AddRow(
      {"policy",
       absl::StrCat(resp.policy_sha256().empty()
                        ? std::string()
                        : absl::StrCat("sha256 ", resp.policy_sha256().substr(0, kHashDigits), " "),
                    "revision ", resp.policy_revision(),
                    resp.policy_rule().empty() ? std::string()
                                               : absl::StrCat(", rule ", resp.policy_rule()))});
  summary.AddRow({"cost", absl::StrCat(Usd(resp.estimated_cost_usd()), " estimated")});
  if (resp.has_analysis()) {
    const v1::PromptAnalysis& a = resp.analysis();
    std::string prompt = absl::StrCat(a.estimated_tokens(), " tokens, complexity ",
                                      absl::StrFormat("%.2f", a.complexity()));
    if (a.intents_size() > 0)
      absl::StrAppend(&prompt, ", intents ", absl::StrJoin(a.intents(), ","));
    if (a.pii_kinds_size() > 0)
      absl::StrAppend(&prompt, ", pii ", absl::StrJoin(a.pii_kinds(), ","));
    summary.AddRow({"prompt", prompt});
  }
  if (resp.has_inventory_age()) {
    double age = resp.inventory_age().seconds() + resp.inventory_age().nanos() / 1e9;
    summary.AddRow({"inventory", absl::StrCat(absl::StrFormat("%.1f s old", age),
                                              resp.inventory_stale() ? ", STALE" : "")});
  } else if (resp.inventory_stale()) {
    summary.AddRow({"inventory", "STALE"});
  }
  summary.AddRow({"decision", resp.decision_id()});
  std::string out = summary.Render();
  if (resp.fallbacks_size() > 0) {
    TextTable fallbacks({"#", "ENDPOINT", "MODEL", "ADDRESS", "PLACEMENT"}, "  ");
    int n = 0;
    for (const v1::Target& f : resp.fallbacks()) {
      fallbacks.AddRow({absl::StrCat(++n), f.endpoint_id(), f.model(), TargetUrl(f), Placement(f)});
    }
    absl::StrAppend(&out, "fallbacks:\n", fallbacks.Render());
  } else {
    absl::StrAppend(&out, "fallbacks: none\n");
  }
  if (resp.has_trace()) out += FormatTrace(resp.trace());
  return out;
}

std::string FormatDecisionRecord(const v1::DecisionRecord& record) {
  const v1::RouteRequestRequest& req = record.request();
  TextTable head({"decision", record.decision_id()});
  if (!record.request_id().empty()) head.AddRow({"request", record.request_id()});
  head.AddRow({"time", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", FromProto(record.time()),
                                        absl::UTCTimeZone())});
  head.AddRow({"replica", record.replica()});
  std::string asked =
      absl::StrCat("model ", req.model(), ", tenant ", req.tenant().empty() ? "-" : req.tenant());
  if (req.priority() != v1::PRIORITY_TIER_UNSPECIFIED) {
    absl::StrAppend(&asked, ", priority ",
                    absl::AsciiStrToLower(absl::StripPrefix(v1::PriorityTier_Name(req.priority()),
                                                            "PRIORITY_TIER_")));
  }
  if (!req.region().empty()) absl::StrAppend(&asked, ", region ", req.region());
  absl::StrAppend(&asked, ", ", req.prompt().message_count(),
                  req.prompt().message_count() == 1 ? " message" : " messages");
  if (req.prompt().max_output_tokens() > 0) {
    absl::StrAppend(&asked, ", max_tokens ", req.prompt().max_output_tokens());
  }
  head.AddRow({"asked", asked});
  if (record.status_code() != 0) {
    head.AddRow({"refused",
                 absl::StrCat(StatusCodeName(static_cast<grpc::StatusCode>(record.status_code())),
                              ": ", record.status_message())});
  }
  std::string out = head.Render();
  if (record.status_code() == 0) {
    out += FormatRoute(record.response());
  } else if (record.response().has_trace()) {
    out += FormatTrace(record.response().trace());
  }
  if (!record.trace_kept()) {
    out +=
        "trace: not kept for this decision (a sample and explain requests keep theirs); "
        "`routerctl decision why-not ID MODEL` replays it\n";
  }
  return out;
}

std::string FormatWhyNot(absl::string_view model, const v1::WhyNotResponse& resp) {
  std::string out = resp.would_be_chosen()
                        ? absl::StrCat(model, ": would be chosen\n")
                        : absl::StrCat(model, ": not chosen (", StageName(resp.stage()), ")\n");
  TextTable details({"rule", resp.rule().empty() ? "-" : resp.rule()}, "  ");
  if (!resp.detail().empty()) details.AddRow({"reason", resp.detail()});
  if (!resp.would_be_chosen()) {
    details.AddRow(
        {"instead", resp.chosen_model().empty() ? "nothing can serve it" : resp.chosen_model()});
  }
  if (!resp.basis().empty()) details.AddRow({"basis", resp.basis()});
  return out + details.Render();
}

std::string FormatEndpoints(const v1::ListEndpointsResponse& resp) {
  std::string footer = absl::StrCat(Plural(resp.endpoints_size(), "endpoint", "endpoints"),
                                    ", inventory version ", resp.inventory_version(), "\n");
  if (resp.endpoints_size() == 0) return footer;
  TextTable table({"ID", "MODEL", "ADDRESS", "REGION", "POOL", "TRACK", "HEALTH", "RUN", "WAIT",
                   "KV", "DETAIL"});
  for (const v1::Endpoint& e : resp.endpoints()) {
    const v1::EndpointLoad& load = e.load();
    table.AddRow(
        {e.id(), e.model(), e.address(), e.region().empty() ? "-" : e.region(),
         e.pool().empty() ? "-" : e.pool(), e.track().empty() ? "-" : e.track(),
         HealthName(e.health()), Number(load.requests_running()), Number(load.requests_waiting()),
         absl::StrFormat("%.0f%%", load.kv_cache_usage() * 100), Clip(e.health_detail(), 60)});
  }
  return table.Render() + footer;
}

}  // namespace llmrouter::routerctl
