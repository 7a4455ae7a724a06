# cmake -DREADME=README.md -DOUT=plugin-guide.md -P plugin-guide.cmake
# The plugin guide is README.md's "## Writing a plugin" section, up to the
# next section of that level, so that the two never differ.
file(READ ${README} text)
string(FIND "${text}" "\n## Writing a plugin\n" start)
if(start EQUAL -1)
    message(FATAL_ERROR "${README} has no \"## Writing a plugin\" section")
endif()
math(EXPR start "${start} + 1")
string(SUBSTRING "${text}" ${start} -1 text)
string(FIND "${text}" "\n## " end)
if(NOT end EQUAL -1)
    string(SUBSTRING "${text}" 0 ${end} text)
endif()
string(REPLACE "## Writing a plugin" "# Writing a loopd plugin" text "${text}")
file(WRITE ${OUT} "${text}\nSee also loopd-plugin(3) and <loopd/plugin.h>.\n")
