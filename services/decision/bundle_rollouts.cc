// The rollouts section of a bundle: canary rollouts by endpoint track (docs/policies.md,
// "Rollouts"). Names, steps and limits are checked here; the model against the catalog, and the
// tracks against the live inventory at apply (policy_service.cc).
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/sha256.h"
#include "re2/re2.h"
#include "services/decision/bundle_reader.h"

namespace llmrouter::decision {

namespace {

// A duration such as "30s" or "5m", between `lo` and `hi`.
bool ReadDuration(BundleReader& r, const YAML::Node& n, const std::string& path, absl::Duration lo,
                  absl::Duration hi, int64_t* out_ms) {
  std::string text;
  if (!r.String(n, path, &text)) return false;
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d < lo || d > hi) {
    r.Problem(path, absl::StrCat("must be a duration from ", absl::FormatDuration(lo), " to ",
                                 absl::FormatDuration(hi), ", e.g. \"5m\""));
    return false;
  }
  *out_ms = absl::ToInt64Milliseconds(d);
  return true;
}

void ReadLimit(BundleReader& r, const YAML::Node& n, const std::string& path,
               const char* relative, double relative_hi, AnalysisLimit* out) {
  if (!n) return;
  if (!r.Map(n, path, {"max", relative})) return;
  const double hi = std::string(relative) == "max_increase" ? 1 : 1e6;
  r.Number(n["max"], Sub(path, "max"), 0, hi, &out->max);
  double* rel = std::string(relative) == "max_increase" ? &out->max_increase : &out->max_ratio;
  r.Number(n[relative], Sub(path, relative), 0, relative_hi, rel);
  if (out->max == 0 && *rel == 0) {
    r.Problem(path, absl::StrCat("sets no limit: give max, ", relative, " or both"));
  }
}

void ReadAnalysis(BundleReader& r, const YAML::Node& n, const std::string& path,
                  RolloutAnalysis* a) {
  if (!r.Map(n, path, {"window", "min_requests", "error_rate", "p95_latency", "p95_ttft"})) return;
  if (const YAML::Node w = n["window"]) {
    ReadDuration(r, w, Sub(path, "window"), absl::Seconds(1), absl::Hours(1), &a->window_ms);
  }
  if (n["min_requests"] && r.Uint(n["min_requests"], Sub(path, "min_requests"), &a->min_requests) &&
      a->min_requests == 0) {
    r.Problem(Sub(path, "min_requests"), "must be at least 1");
  }
  ReadLimit(r, n["error_rate"], Sub(path, "error_rate"), "max_increase", 1, &a->error_rate);
  ReadLimit(r, n["p95_latency"], Sub(path, "p95_latency"), "max_ratio", 1000, &a->p95_latency);
  ReadLimit(r, n["p95_ttft"], Sub(path, "p95_ttft"), "max_ratio", 1000, &a->p95_ttft);
  if (!n["error_rate"] && !n["p95_latency"] && !n["p95_ttft"]) {
    r.Problem(path, "judges nothing: set error_rate, p95_latency or p95_ttft limits");
  }
}

void ReadSteps(BundleReader& r, const YAML::Node& n, const std::string& path,
               std::vector<RolloutStep>* steps) {
  if (!n.IsSequence() || n.size() == 0) {
    r.Problem(path, "must list steps, e.g. [{weight: 5, duration: 10m}, {weight: 100, duration: "
                    "10m}]");
    return;
  }
  if (n.size() > 20) r.Problem(path, "at most 20 steps");
  for (size_t i = 0; i < n.size() && i < 20; ++i) {
    const std::string sp = absl::StrCat(path, "[", i, "]");
    RolloutStep step;
    if (!r.Map(n[i], sp, {"weight", "duration"})) continue;
    double weight = -1;
    if (!n[i]["weight"]) {
      r.Problem(Sub(sp, "weight"), "is required: the canary's share, 1 to 100");
    } else if (r.Number(n[i]["weight"], Sub(sp, "weight"), 1, 100, &weight)) {
      if (weight != static_cast<uint32_t>(weight)) {
        r.Problem(Sub(sp, "weight"), "must be a whole number from 1 to 100");
      }
      step.weight = static_cast<uint32_t>(weight);
      if (!steps->empty() && step.weight <= steps->back().weight) {
        r.Problem(Sub(sp, "weight"), absl::StrCat("must be above the previous step's ",
                                                  steps->back().weight));
      }
    }
    if (!n[i]["duration"]) {
      r.Problem(Sub(sp, "duration"), "is required: how long the step lasts at least, e.g. 10m");
    } else {
      ReadDuration(r, n[i]["duration"], Sub(sp, "duration"), absl::Seconds(1), absl::Hours(24 * 7),
                   &step.duration_ms);
    }
    steps->push_back(step);
  }
  if (!steps->empty() && steps->back().weight != 100 && steps->back().weight != 0) {
    r.Problem(absl::StrCat(path, "[", steps->size() - 1, "].weight"),
              absl::StrCat("the last step must give the canary 100, not ", steps->back().weight));
  }
}

}  // namespace

void ReadRollout(BundleReader& r, const YAML::Node& n, const std::string& path, RolloutSpec* spec) {
  if (!r.Map(n, path, {"name", "model", "tracks", "sticky", "steps", "analysis"})) return;
  static const LazyRE2 kName = {"[a-z0-9][a-z0-9._-]{0,62}"};
  if (!n["name"]) {
    r.Problem(Sub(path, "name"), "is required");
  } else if (r.String(n["name"], Sub(path, "name"), &spec->name) &&
             !RE2::FullMatch(spec->name, *kName)) {
    r.Problem(Sub(path, "name"),
              "must be 1 to 63 lower-case letters, digits, '.', '_' or '-' (a metric label)");
  }
  if (!n["model"]) {
    r.Problem(Sub(path, "model"), "is required: the catalog model whose tracks are rolled out");
  } else {
    r.String(n["model"], Sub(path, "model"), &spec->model);
  }
  if (const YAML::Node t = n["tracks"]) {
    const std::string tp = Sub(path, "tracks");
    if (r.Map(t, tp, {"stable", "canary"})) {
      r.String(t["stable"], Sub(tp, "stable"), &spec->stable_track);
      r.String(t["canary"], Sub(tp, "canary"), &spec->canary_track);
      for (const auto* track : {&spec->stable_track, &spec->canary_track}) {
        if (!RE2::FullMatch(*track, *kName)) {
          r.Problem(tp, absl::StrCat("\"", *track, "\" is not a track name (lower-case letters, "
                                     "digits, '.', '_', '-')"));
        }
      }
      if (spec->stable_track == spec->canary_track) {
        r.Problem(tp, "stable and canary must be different tracks");
      }
    }
  }
  if (const YAML::Node s = n["sticky"]) {
    if (r.String(s, Sub(path, "sticky"), &spec->sticky) &&
        !OneOf(spec->sticky, {"session", "user", "tenant"})) {
      r.Problem(Sub(path, "sticky"), "must be session, user or tenant");
    }
  }
  if (!n["steps"]) {
    r.Problem(Sub(path, "steps"), "is required");
  } else {
    ReadSteps(r, n["steps"], Sub(path, "steps"), &spec->steps);
  }
  if (!n["analysis"]) {
    r.Problem(Sub(path, "analysis"),
              "is required: the window, min_requests and the limits that roll the canary back");
  } else {
    ReadAnalysis(r, n["analysis"], Sub(path, "analysis"), &spec->analysis);
  }
}

std::string RolloutSpec::Fingerprint() const {
  // What the progress means: the model, its tracks and the steps. Stickiness and the analysis
  // may change mid-rollout (a tightened limit applies from the next judgement).
  std::string text = absl::StrCat(name, "\n", model, "\n", stable_track, "\n", canary_track, "\n");
  for (const RolloutStep& s : steps) absl::StrAppend(&text, s.weight, "@", s.duration_ms, ";");
  return Sha256Hex(text);
}

}  // namespace llmrouter::decision
