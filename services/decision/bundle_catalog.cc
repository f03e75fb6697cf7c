// The catalog sections of a bundle: models, tenants and intents.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "services/decision/bundle_reader.h"

namespace llmrouter::decision {

void ReadModel(BundleReader& r, const YAML::Node& m, const std::string& path, ModelSpec* spec) {
  if (!r.Map(m, path,
             {"name", "aliases", "fallbacks", "owned_by", "capabilities", "context_window", "price",
              "quality", "data_policy"})) {
    return;
  }
  if (!m["name"]) r.Problem(Sub(path, "name"), "is required");
  r.String(m["name"], Sub(path, "name"), &spec->name);
  r.Strings(m["aliases"], Sub(path, "aliases"), &spec->aliases);
  r.Strings(m["fallbacks"], Sub(path, "fallbacks"), &spec->fallbacks);
  r.String(m["owned_by"], Sub(path, "owned_by"), &spec->owned_by);
  r.Strings(m["capabilities"], Sub(path, "capabilities"), &spec->capabilities);
  r.Uint(m["context_window"], Sub(path, "context_window"), &spec->context_window);
  if (const YAML::Node price = m["price"]) {
    std::string p = Sub(path, "price");
    if (r.Map(price, p, {"input_per_mtok", "output_per_mtok"})) {
      r.Number(price["input_per_mtok"], Sub(p, "input_per_mtok"), 0, 1e6,
               &spec->input_price_per_mtok);
      r.Number(price["output_per_mtok"], Sub(p, "output_per_mtok"), 0, 1e6,
               &spec->output_price_per_mtok);
    }
  }
  r.Number(m["quality"], Sub(path, "quality"), 0, 1, &spec->quality);
  if (m["data_policy"]) {
    r.Enum(m["data_policy"], Sub(path, "data_policy"), {"private", "external"}, &spec->data_policy);
  }
}

void ReadTenant(BundleReader& r, const YAML::Node& t, const std::string& path, TenantSpec* spec) {
  if (!r.Map(t, path,
             {"name", "allowed_models", "default_tier", "allowed_tiers", "client_region", "explain",
              "spend_limit", "rate_limits"})) {
    return;
  }
  if (!t["name"]) r.Problem(Sub(path, "name"), "is required");
  r.String(t["name"], Sub(path, "name"), &spec->name);
  r.Strings(t["allowed_models"], Sub(path, "allowed_models"), &spec->allowed_models);
  if (t["default_tier"])
    r.Enum(t["default_tier"], Sub(path, "default_tier"), kTiers, &spec->default_tier);
  r.Strings(t["allowed_tiers"], Sub(path, "allowed_tiers"), &spec->allowed_tiers);
  for (size_t i = 0; i < spec->allowed_tiers.size(); ++i) {
    if (!OneOf(spec->allowed_tiers[i], kTiers)) {
      r.Problem(absl::StrCat(path, ".allowed_tiers[", i, "]"),
                absl::StrCat("\"", spec->allowed_tiers[i],
                             "\" is not one of interactive, standard, batch"));
    }
  }
  if (!spec->default_tier.empty() && !spec->allowed_tiers.empty() &&
      std::find(spec->allowed_tiers.begin(), spec->allowed_tiers.end(), spec->default_tier) ==
          spec->allowed_tiers.end()) {
    r.Problem(Sub(path, "default_tier"),
              absl::StrCat("\"", spec->default_tier, "\" is not in allowed_tiers"));
  }
  if (t["client_region"]) {
    std::string trust;
    r.Enum(t["client_region"], Sub(path, "client_region"), {"trusted", "ignored"}, &trust);
    spec->trust_client_region = trust == "trusted";
  }
  if (t["explain"])
    r.Enum(t["explain"], Sub(path, "explain"), {"own", "full", "off"}, &spec->explain);
  if (const YAML::Node s = t["spend_limit"]) {
    std::string p = Sub(path, "spend_limit");
    if (r.Map(s, p, {"usd", "period", "over_limit"})) {
      r.Number(s["usd"], Sub(p, "usd"), 0, 1e12, &spec->spend_limit.usd);
      if (s["period"])
        r.Enum(s["period"], Sub(p, "period"), {"day", "month"}, &spec->spend_limit.period);
      if (s["over_limit"]) {
        r.Enum(s["over_limit"], Sub(p, "over_limit"), {"deny", "downgrade"},
               &spec->spend_limit.over_limit);
      }
    }
  }
  if (const YAML::Node l = t["rate_limits"]) {
    ReadTenantRateLimits(r, l, Sub(path, "rate_limits"), &spec->rate_limits);
  }
}

namespace {

void ReadRateLimit(BundleReader& r, const YAML::Node& n, const std::string& path,
                   RateLimitSpec* spec) {
  if (!r.Map(n, path, {"requests", "tokens", "concurrent"})) return;
  r.Uint(n["requests"], Sub(path, "requests"), &spec->requests);
  r.Uint(n["tokens"], Sub(path, "tokens"), &spec->tokens);
  r.Uint(n["concurrent"], Sub(path, "concurrent"), &spec->concurrent);
}

}  // namespace

void ReadTenantRateLimits(BundleReader& r, const YAML::Node& n, const std::string& path,
                          TenantRateLimits* limits) {
  if (!r.Map(n, path, {"window", "requests", "tokens", "concurrent", "per_api_key"})) return;
  if (const YAML::Node w = n["window"]) {
    std::string text;
    absl::Duration window;
    if (r.String(w, Sub(path, "window"), &text)) {
      if (!absl::ParseDuration(text, &window) || window < absl::Seconds(1) ||
          window > absl::Hours(24)) {
        r.Problem(Sub(path, "window"),
                  absl::StrCat("\"", text, "\" is not a duration from 1s to 24h (e.g. 60s, 1m)"));
      } else {
        limits->window_ms = absl::ToInt64Milliseconds(window);
      }
    }
  }
  // requests, tokens and concurrent at this level limit the tenant as a whole.
  r.Uint(n["requests"], Sub(path, "requests"), &limits->tenant.requests);
  r.Uint(n["tokens"], Sub(path, "tokens"), &limits->tenant.tokens);
  r.Uint(n["concurrent"], Sub(path, "concurrent"), &limits->tenant.concurrent);
  if (const YAML::Node k = n["per_api_key"]) {
    ReadRateLimit(r, k, Sub(path, "per_api_key"), &limits->per_api_key);
  }
}

void ReadIntent(BundleReader& r, const YAML::Node& n, const std::string& path, IntentSpec* spec) {
  if (!r.Map(n, path, {"name", "keywords", "patterns", "scope"})) return;
  if (!n["name"]) r.Problem(Sub(path, "name"), "is required");
  r.String(n["name"], Sub(path, "name"), &spec->name);
  r.Strings(n["keywords"], Sub(path, "keywords"), &spec->keywords);
  r.Strings(n["patterns"], Sub(path, "patterns"), &spec->patterns);
  for (size_t i = 0; i < spec->patterns.size(); ++i) {
    r.Regex(spec->patterns[i], absl::StrCat(path, ".patterns[", i, "]"));
  }
  if (spec->keywords.empty() && spec->patterns.empty()) {
    r.Problem(path, "needs keywords or patterns");
  }
  std::string scope = "last_message";
  r.Enum(n["scope"], Sub(path, "scope"), {"last_message", "conversation"}, &scope);
  spec->scope = scope == "conversation" ? IntentScope::kConversation : IntentScope::kLastMessage;
}

}  // namespace llmrouter::decision
