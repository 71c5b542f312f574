// Table: column-aligned text output for CLI lists (kubectl style: upper-case headers, two
// spaces between columns).
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace petrel::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void addRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(std::ostream& out) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace petrel::cli
