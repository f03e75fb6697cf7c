// An aligned plain-text table for routerctl's human output.
#ifndef LLMROUTER_TOOLS_ROUTERCTL_TEXT_TABLE_H_
#define LLMROUTER_TOOLS_ROUTERCTL_TEXT_TABLE_H_

#include <string>
#include <vector>

namespace llmrouter::routerctl {

// Columns are left-aligned and separated by two spaces; the last column is not padded, so no
// line ends in spaces. A value type; not safe for concurrent mutation.
class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header, std::string indent = "");

  // Short rows are padded with empty cells; extra cells are kept.
  void AddRow(std::vector<std::string> cells);
  size_t rows() const { return rows_.size() - 1; }
  // Header and rows, each line ending in '\n'.
  std::string Render() const;

 private:
  std::string indent_;
  std::vector<std::vector<std::string>> rows_;  // rows_[0] is the header
};

}  // namespace llmrouter::routerctl

#endif  // LLMROUTER_TOOLS_ROUTERCTL_TEXT_TABLE_H_
