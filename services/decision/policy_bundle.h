// A policy bundle: the YAML document operators author (see docs/policies.md). Parsing checks
// structure and references and locates every problem; CompiledPolicy turns a valid bundle into
// the evaluator requests use.
#ifndef LLMROUTER_SERVICES_DECISION_POLICY_BUNDLE_H_
#define LLMROUTER_SERVICES_DECISION_POLICY_BUNDLE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace llmrouter::decision {

struct ModelSpec {
  std::string name;
  std::vector<std::string> aliases;
  std::vector<std::string> fallbacks;
  std::string owned_by;
  std::vector<std::string> capabilities;
  uint32_t context_window = 0;  // 0: unknown, never rejects
  double input_price_per_mtok = 0;
  double output_price_per_mtok = 0;
  double quality = 0;       // [0, 1]
  std::string data_policy;  // "private", "external" or empty
};

struct SpendLimit {
  double usd = 0;                   // 0: no limit
  std::string period = "month";     // "day" or "month"
  std::string over_limit = "deny";  // "deny" or "downgrade"
};

// Rate limits the gateway enforces (bundle: tenants[].rate_limits). 0 means no limit.
struct RateLimitSpec {
  uint32_t requests = 0;    // per window
  uint32_t tokens = 0;      // input + output tokens per window
  uint32_t concurrent = 0;  // requests in flight
  bool any() const { return requests > 0 || tokens > 0 || concurrent > 0; }
};

struct TenantRateLimits {
  int64_t window_ms = 60000;  // bundle: window, e.g. 60s (1s to 24h)
  RateLimitSpec tenant;       // the tenant as a whole
  RateLimitSpec per_api_key;  // each API key of the tenant on its own
  bool any() const { return tenant.any() || per_api_key.any(); }
};

struct TenantSpec {
  std::string name;
  std::vector<std::string> allowed_models;  // names or aliases; empty allows all
  std::string default_tier;                 // "interactive", "standard", "batch" or empty
  // Tiers the tenant may ask for; a request above them is lowered. Empty allows every tier.
  std::vector<std::string> allowed_tiers;
  // Whether a region the client asks for (x-router-region) replaces the gateway's own.
  bool trust_client_region = false;
  // What explain shows the tenant's callers: "own" (its own rules and chosen targets), "full"
  // (the whole trace, other tenants' rules included) or "off" (nothing).
  std::string explain = "own";
  SpendLimit spend_limit;
  TenantRateLimits rate_limits;
};

// Intent signals the prompt analyser looks for: whole-word keywords (case-insensitive) or RE2
// patterns.
// Where an intent's keywords and patterns are looked for. The last user message is what the
// caller asks now; the system prompt and earlier turns are weaker evidence, which an intent
// reads only when its author says so.
enum class IntentScope { kLastMessage, kConversation };

struct IntentSpec {
  std::string name;
  std::vector<std::string> keywords;
  std::vector<std::string> patterns;
  IntentScope scope = IntentScope::kLastMessage;  // bundle: scope: last_message | conversation
};

struct HeaderMatch {
  std::string name;   // lower-case
  std::string value;  // exact, when regex is empty
  std::string regex;  // RE2, full match
};

struct Range {
  std::optional<double> min;
  std::optional<double> max;
};

struct RuleMatch {
  std::vector<std::string> models;  // requested names; "*" matches any
  std::vector<std::string> tenants;
  std::vector<std::string> tiers;
  std::vector<std::string> regions;
  std::vector<HeaderMatch> headers;
  std::vector<std::string> intents;  // any of them
  Range complexity;
  Range tokens;
  std::optional<bool> pii;
  std::vector<std::string> capabilities;  // required of the chosen model
};

struct SplitEntry {
  std::string model;
  uint32_t weight = 0;
};

// One endpoint track's share of a rule's traffic (then.tracks).
struct TrackShare {
  std::string track;  // the endpoints' track, e.g. "stable", "canary", "blue"
  uint32_t weight = 0;
};

struct Constraints {
  std::optional<double> max_cost_usd;
  std::optional<double> min_quality;
  std::optional<uint32_t> max_latency_ms;
  bool context_must_fit = true;
  std::string data_policy;  // required data policy of the chosen model, e.g. "private"
};

// Priority tiers and capacity pools: which pools serve which tier, when a tier may spill into
// other pools, and when a tier is shed because everything it may use is saturated.
struct TierPools {
  std::map<std::string, std::vector<std::string>> pools;        // tier -> pools; absent tier: any
  std::map<std::string, std::vector<std::string>> spill_pools;  // tier -> extra pools
  double spill_below_load = 0;  // an extra pool's endpoint is used while its load score is below
  std::vector<std::string> shed_tiers;  // shed when every usable endpoint is saturated
  double saturated_queue = 0;           // requests waiting above this: saturated (0: never)
  double saturated_kv = 0;              // KV-cache use above this: saturated (0: never)
};

struct RuleAction {
  std::vector<std::string> candidates;  // preference order
  std::vector<SplitEntry> split;        // weighted; excludes candidates
  // Within each model, the share of its traffic each endpoint track gets (weights sum to 100;
  // empty: every track alike). A track with no usable endpoint hands its share to the others.
  std::vector<TrackShare> tracks;
  // What keeps a split's and the tracks' draws stable: "session", "user", "tenant" or empty
  // (random draw per request).
  std::string sticky;
  std::string strategy = "ordered";     // "ordered", "cheapest", "quality"
  // Among one model's endpoints: "round_robin", "least_outstanding", "p2c", "lowest_latency",
  // "weighted".
  std::string endpoint_strategy = "round_robin";
  Constraints constraints;
  TierPools tiers;
  std::vector<std::string> fallbacks;
  std::optional<std::string> deny;  // reason
};

struct RuleSpec {
  std::string name;
  RuleMatch match;
  RuleAction then;
};

struct BundleTestRequest {
  std::string model;
  std::string tenant;
  std::string tier;
  std::string region;
  std::string session;
  std::string user;
  std::map<std::string, std::string> headers;
  std::string prompt;
  uint32_t max_tokens = 0;
};

struct BundleTest {
  std::string name;
  BundleTestRequest request;
  std::string expect_model;
  std::string expect_rule;
  bool expect_deny = false;
};

// The learned prompt classifier a bundle uses, named by its model file's content hash. Decision
// finds the file among models sent with the bundle, the ones it has stored, its built-in one,
// and `file` (docs/policies.md, "Prompt classifier").
struct ClassifierSpec {
  std::string sha256;  // lower-case hex SHA-256 of the model file
  std::string file;    // a path decision reads it from when it has no model of that hash
  // Intents at or above this probability are listed (the most probable first); when none is,
  // the prompt is general_chat.
  double min_confidence = 0.4;
};

// A limit on one figure of the canary: absolute (max) and relative to the stable track over the
// same window (max_increase: a difference of rates; max_ratio: canary / stable). 0: not set.
struct AnalysisLimit {
  double max = 0;
  double max_increase = 0;  // error_rate only
  double max_ratio = 0;     // p95_latency and p95_ttft only
};

// rollouts[].analysis: judged over the last `window` (and never before the step started).
struct RolloutAnalysis {
  int64_t window_ms = 60000;
  uint32_t min_requests = 20;  // canary requests in the window before judging
  AnalysisLimit error_rate;
  AnalysisLimit p95_latency;  // seconds
  AnalysisLimit p95_ttft;     // seconds
};

struct RolloutStep {
  uint32_t weight = 0;       // the canary's share, 0 to 100
  int64_t duration_ms = 0;   // at least this long at this weight
};

// A canary rollout of one model's endpoints by track (docs/policies.md, "Rollouts"). While the
// bundle declares it, decision runs it and its weight overrides the model's track split.
struct RolloutSpec {
  std::string name;
  std::string model;  // catalog name
  std::string stable_track = "stable";
  std::string canary_track = "canary";
  std::string sticky;  // "", "session", "user" or "tenant"
  std::vector<RolloutStep> steps;  // weights rising, the last 100
  RolloutAnalysis analysis;
  // Hex SHA-256 of the model, tracks and steps: progress kept for other ones starts over (the
  // analysis and stickiness may change without).
  std::string Fingerprint() const;
};

struct PolicyBundle {
  uint32_t default_output_tokens = 256;
  // Configured latency between regions in ms (region -> region -> ms); either direction.
  std::map<std::string, std::map<std::string, double>> region_latency_ms;
  std::vector<ModelSpec> models;
  std::vector<TenantSpec> tenants;
  std::vector<IntentSpec> intents;
  std::optional<ClassifierSpec> classifier;
  std::vector<RuleSpec> rules;
  std::vector<BundleTest> tests;
  std::vector<RolloutSpec> rollouts;
};

// One located problem, e.g. {"rules[3].then.split", "weights sum to 90, not 100"}.
struct BundleProblem {
  std::string path;
  std::string message;
};

// Parses and checks a bundle. Returns every problem found; an empty list means `out` is valid.
std::vector<BundleProblem> ParsePolicyBundle(const std::string& yaml, PolicyBundle* out);

// InvalidArgument listing `problems`, one "path: message" per line.
absl::Status BundleProblemsError(const std::vector<BundleProblem>& problems);

// Parses a bundle or returns InvalidArgument whose message lists every problem, one
// "path: message" per line.
absl::StatusOr<PolicyBundle> ParsePolicyBundleOrError(const std::string& yaml);

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_POLICY_BUNDLE_H_
