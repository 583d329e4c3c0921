// Writes one file with common::write_durably, for check_durable_write.sh to
// trace: durable_write_probe PATH TEXT.
#include <iostream>

#include "common/files.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: durable_write_probe PATH TEXT\n";
    return 2;
  }
  rulekeeper::common::write_durably(argv[1], argv[2]);
  return 0;
}
