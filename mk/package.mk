# package.mk - files `make install` writes for consumers: pkg-config and the CMake package.
#
#   make install PREFIX=/usr/local [LIBDIR=...] [INCLUDEDIR=...] [DESTDIR=staging]
#     $(LIBDIR)/pkgconfig/sectionloss.pc
#     $(LIBDIR)/cmake/sectionloss/sectionloss-config.cmake          (sectionloss::sectionloss)
#     $(LIBDIR)/cmake/sectionloss/sectionloss-config-version.cmake  (SameMajorVersion: the
#                                                                   soname's major, >= asked)
# The files hold the final paths (without DESTDIR), like the pkg-config file.

SIZEOF_VOID_P = $(shell $(CC) -dM -E - </dev/null | sed -n 's/^\#define __SIZEOF_POINTER__ //p')
PKG_SED = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
  -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(SL_VERSION)|g' -e 's|@MAJOR@|$(SL_MAJOR)|g' \
  -e 's|@SIZEOF_VOID_P@|$(SIZEOF_VOID_P)|g'
CMAKE_PKG_DIR = $(DESTDIR)$(LIBDIR)/cmake/sectionloss

.PHONY: install-pkgconfig install-cmake
install-pkgconfig:
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig
	$(PKG_SED) sectionloss.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/sectionloss.pc

install-cmake:
	install -d $(CMAKE_PKG_DIR)
	$(PKG_SED) cmake/sectionloss-config.cmake.in > $(CMAKE_PKG_DIR)/sectionloss-config.cmake
	$(PKG_SED) cmake/sectionloss-config-version.cmake.in \
	  > $(CMAKE_PKG_DIR)/sectionloss-config-version.cmake
