# SPDX-License-Identifier: MIT
# package.mk - files `make install` writes for consumers: pkg-config and the CMake package.
#
#   make install PREFIX=/usr/local [LIBDIR=...] [INCLUDEDIR=...] [DESTDIR=staging]
#     $(LIBDIR)/pkgconfig/sectionloss.pc
#     $(LIBDIR)/cmake/sectionloss/sectionloss-config.cmake          (sectionloss::sectionloss,
#                                                                   sectionloss::sectionloss_static)
#     $(LIBDIR)/cmake/sectionloss/sectionloss-config-version.cmake  (SameMajorVersion: the
#                                                                   soname's major, >= asked)
# The pkg-config file holds the final paths (without DESTDIR). The CMake package is relocatable:
# it finds the prefix from its own location (PACKAGE_PREFIX_DIR, computed from
# CMAKE_CURRENT_LIST_DIR and the relative path CMAKE_TO_PREFIX written here), and the library and
# header directories relative to that prefix, so the installed tree may be moved as a whole.

SIZEOF_VOID_P = $(shell $(CC) -dM -E - </dev/null | sed -n 's/^\#define __SIZEOF_POINTER__ //p')
CMAKEDIR = $(LIBDIR)/cmake/sectionloss
relpath = $(shell realpath -m --relative-to='$(2)' '$(1)')
PKG_SED = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
  -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(SL_VERSION)|g' -e 's|@MAJOR@|$(SL_MAJOR)|g' \
  -e 's|@SIZEOF_VOID_P@|$(SIZEOF_VOID_P)|g' \
  -e 's|@CMAKE_TO_PREFIX@|$(call relpath,$(PREFIX),$(CMAKEDIR))|g' \
  -e 's|@LIBDIR_REL@|$(call relpath,$(LIBDIR),$(PREFIX))|g' \
  -e 's|@INCLUDEDIR_REL@|$(call relpath,$(INCLUDEDIR),$(PREFIX))|g'
PACKAGE_FILES = $(LIBDIR)/pkgconfig/sectionloss.pc $(CMAKEDIR)/sectionloss-config.cmake \
  $(CMAKEDIR)/sectionloss-config-version.cmake

.PHONY: install-pkgconfig install-cmake
install-pkgconfig:
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig
	$(PKG_SED) sectionloss.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/sectionloss.pc

install-cmake:
	install -d $(DESTDIR)$(CMAKEDIR)
	$(PKG_SED) cmake/sectionloss-config.cmake.in > $(DESTDIR)$(CMAKEDIR)/sectionloss-config.cmake
	$(PKG_SED) cmake/sectionloss-config-version.cmake.in \
	  > $(DESTDIR)$(CMAKEDIR)/sectionloss-config-version.cmake
