// The bundles the project ships must be valid, lint-clean and pass their own tests.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include "services/decision/bundle_tester.h"
#include "services/decision/classifier_models.h"
#include "services/decision/policy_lint.h"
#include "tests/support/process_harness.h"

namespace llmrouter::decision {
namespace {

// Lint-clean, valid with the classifier it names, and its own tests pass.
void ExpectCleanAndPassing(const std::string& text, std::size_t min_tests) {
  for (const auto& f : LintPolicyBundle(text)) {
    ADD_FAILURE() << f.check() << " " << f.path() << ": " << f.message();
  }
  auto bundle = ParsePolicyBundleOrError(text);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  std::shared_ptr<const LearnedClassifier> classifier;
  if (bundle->classifier) {
    ClassifierModels models(/*store=*/nullptr);
    auto resolved = models.Resolve(*bundle->classifier, "");
    ASSERT_TRUE(resolved.ok()) << resolved.status();
    classifier = resolved->model;
  }
  auto policy = CompiledPolicy::Compile(*bundle, 1, "h", classifier);
  auto results = RunBundleTests(*policy);
  EXPECT_GE(results.size(), min_tests);
  for (const auto& r : results) EXPECT_TRUE(r.passed()) << r.name() << ": " << r.detail();
}

TEST(ExampleBundlesTest, LocalDemoBundleIsCleanAndPassesItsTests) {
  std::ifstream in(testing::SourcePath("deploy/examples/local/policy.yaml"));
  ASSERT_TRUE(in);
  std::stringstream text;
  text << in.rdbuf();
  ExpectCleanAndPassing(text.str(), 5);
}

TEST(ExampleBundlesTest, TheChartsDefaultBundleIsCleanAndPassesItsTests) {
  const YAML::Node values = YAML::LoadFile(testing::SourcePath("helm/llm-router/values.yaml"));
  ExpectCleanAndPassing(values["decision"]["policy"]["bundle"].as<std::string>(), 3);
}

}  // namespace
}  // namespace llmrouter::decision
