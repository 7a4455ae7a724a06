# Debian packages, with CPack: `cpack -G DEB` in a build dir configured
# with -DCMAKE_INSTALL_PREFIX=/usr writes loopd_VERSION_ARCH.deb and
# loopd-dev_VERSION_ARCH.deb.  Every install() rule without a COMPONENT
# belongs to the loopd package (CMAKE_INSTALL_DEFAULT_COMPONENT_NAME, set
# at the top); the dev component is the header, loopd-plugin.pc, the
# plugin guide, loopd-plugin(3) and the example plugins' sources.

set(LOOPD_PACKAGE_MAINTAINER_NAME "loopd maintainers" CACHE STRING
    "The name in the packages' Maintainer: field and changelog")
set(LOOPD_PACKAGE_MAINTAINER_EMAIL "maintainers@loopd.example.org" CACHE STRING
    "The address in the packages' Maintainer: field and changelog")

set(pkg_src ${CMAKE_CURRENT_SOURCE_DIR}/packaging/deb)
set(pkg_out ${CMAKE_CURRENT_BINARY_DIR}/packaging)

# The conffile list names the configuration file the binary reads.
configure_file(${pkg_src}/conffiles.in ${pkg_out}/conffiles @ONLY)
configure_file(${pkg_src}/changelog.in ${pkg_out}/changelog @ONLY)

# /usr/share/doc/PACKAGE: copyright, and the changelog compressed as
# Debian policy wants it (gzip -9n: no name, no time stamp).
find_program(LOOPD_GZIP gzip REQUIRED)
add_custom_command(OUTPUT ${pkg_out}/changelog.gz
    COMMAND ${LOOPD_GZIP} -9nc ${pkg_out}/changelog > ${pkg_out}/changelog.gz
    DEPENDS ${pkg_out}/changelog VERBATIM)
add_custom_target(loopd_package_docs ALL DEPENDS ${pkg_out}/changelog.gz)
foreach(comp_pkg loopd:loopd dev:loopd-dev)
    string(REPLACE ":" ";" cp ${comp_pkg})
    list(GET cp 0 comp)
    list(GET cp 1 pkg)
    install(FILES ${pkg_src}/copyright ${pkg_out}/changelog.gz
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${pkg} COMPONENT ${comp})
endforeach()

# The directory whose fragments the shipped configuration includes.
install(DIRECTORY DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/loopd/conf.d)

# The example plugins' sources, for plugin authors.
install(FILES plugins/echo/echo.c plugins/ticker/ticker.c
    plugins/resolver/resolver.c
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/loopd-dev/examples
    COMPONENT dev)

set(CPACK_PACKAGE_NAME loopd)
set(CPACK_PACKAGE_VENDOR "loopd")
set(CPACK_PACKAGE_CONTACT
    "${LOOPD_PACKAGE_MAINTAINER_NAME} <${LOOPD_PACKAGE_MAINTAINER_EMAIL}>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# No CPACK_PACKAGE_DESCRIPTION_SUMMARY: the first line of each
# component's description is its package's synopsis.
# The configuration lives in /etc, outside the prefix: stage below
# DESTDIR, never in the real /etc.
set(CPACK_SET_DESTDIR ON)
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_COMPONENTS_ALL loopd dev)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_LOOPD_PACKAGE_NAME loopd)
set(CPACK_DEBIAN_LOOPD_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_LOOPD_PACKAGE_SHLIBDEPS ON)
# libdw is opened with dlopen() on a crash's first backtrace (symbolize.c),
# so shlibdeps cannot see it: without it, frames keep their raw lines.
set(CPACK_DEBIAN_LOOPD_PACKAGE_RECOMMENDS "libdw1")
set(CPACK_COMPONENT_LOOPD_DESCRIPTION
"supervisor daemon for event-loop plugins
loopd runs event loops described in a YAML file, one worker process per
loop; each task is an instance of a plugin, a shared object, so a plugin
that crashes takes down only its loop.  This package holds the daemon,
the bundled echo and ticker plugins, the systemd unit, which is enabled
and started on installation, and an example configuration.")
set(CPACK_DEBIAN_LOOPD_PACKAGE_CONTROL_EXTRA
    "${pkg_out}/conffiles;${pkg_src}/postinst;${pkg_src}/prerm;${pkg_src}/postrm")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME loopd-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "loopd (= ${PROJECT_VERSION}), libevent-dev (>= 2.1), pkg-config")
set(CPACK_COMPONENT_DEV_DESCRIPTION
"header and examples for building loopd plugins
The plugin API's header, loopd/plugin.h, its pkg-config file
loopd-plugin.pc, the plugin guide, the loopd-plugin(3) manual page and
the sources of example plugins.")

include(CPack)
