#include "core/backends/disk_image.h"

#include <fcntl.h>
#include <sys/stat.h>

namespace bulkhead {

Result<DiskImage> OpenDiskImage(const DiskOptions& options, bool cdrom) {
  const char* what = cdrom ? "CD-ROM image" : "disk image";
  const uint64_t sector = cdrom ? 2048 : 512;
  DiskImage image;
  // A directory cannot be opened for writing at all (EISDIR): say what it is
  // before trying, so the message is the same for every open mode.
  struct stat path_st {};
  if (::stat(options.path.c_str(), &path_st) == 0 && S_ISDIR(path_st.st_mode)) {
    return MakeError("{} '{}' is a directory", what, options.path);
  }
  image.readonly = options.readonly || cdrom;
  image.fd = UniqueFd(::open(options.path.c_str(),
                             (image.readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY));
  if (!image.fd) return ErrnoError("cannot open {} '{}'", what, options.path);
  struct stat st {};
  if (::fstat(image.fd.get(), &st) < 0) return ErrnoError("cannot stat {} '{}'", what, options.path);
  if (S_ISDIR(st.st_mode)) return MakeError("{} '{}' is a directory", what, options.path);
  if (!S_ISREG(st.st_mode)) return MakeError("{} '{}' is not a regular file", what, options.path);
  image.size = static_cast<uint64_t>(st.st_size);
  if (image.size == 0) return MakeError("{} '{}' is empty", what, options.path);
  if (image.size % sector != 0) {
    return MakeError("{} '{}' is {} bytes, not a multiple of {}", what, options.path, image.size,
                     sector);
  }
  struct flock lock {};
  lock.l_type = image.readonly ? F_RDLCK : F_WRLCK;
  lock.l_whence = SEEK_SET;
  if (::fcntl(image.fd.get(), F_OFD_SETLK, &lock) < 0) {
    return ErrnoError("{} '{}' is in use by another process", what, options.path);
  }
  return image;
}

}  // namespace bulkhead
