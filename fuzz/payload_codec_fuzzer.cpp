// decodePayload: a stored payload's JSON text (what the database hands back;
// a damaged or hostile row must not crash the server). A decoded value must
// survive encodePayload/decodePayload unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "store/payload_codec.hpp"
#include "store/store.hpp"

namespace {

const plexus::core::BlobDirectory& blobs() {
  static const plexus::core::BlobDirectory kBlobs = [] {
    char folder[] = "/tmp/plexus-fuzz-blobs-XXXXXX";
    if (!::mkdtemp(folder)) std::abort();
    return plexus::core::BlobDirectory(folder, /*fullSync=*/false);
  }();
  return kBlobs;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  plexus::Json value;
  try {
    value = plexus::core::decodePayload(text, blobs());
  } catch (const plexus::core::StoreError&) {
    return 0;  // Documented: malformed text, a bad marker or a missing blob file.
  }
  plexus::Json again = plexus::core::decodePayload(plexus::core::encodePayload(value, blobs()), blobs());
  if (again != value) __builtin_trap();
  return 0;
}
