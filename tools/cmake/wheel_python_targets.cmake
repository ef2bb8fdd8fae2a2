# Included right after project() (CMAKE_PROJECT_<name>_INCLUDE) when building an unmodified
# upstream interface package against the ROS 2 wheels from PyPI: their exported
# <dep>::<dep>__rosidl_generator_py targets name the Python include folder of the machine
# that built the wheel, so point them at this interpreter's headers before the package's own
# find_package() calls reuse them. WHEEL_PYTHON_DEPENDENCIES lists the packages to patch.
find_package(Python3 REQUIRED COMPONENTS Interpreter Development.Module)
foreach(dependency ${WHEEL_PYTHON_DEPENDENCIES})
  find_package(${dependency} REQUIRED)
  set(target ${dependency}::${dependency}__rosidl_generator_py)
  if(TARGET ${target})
    set_property(TARGET ${target} PROPERTY INTERFACE_INCLUDE_DIRECTORIES ${Python3_INCLUDE_DIRS})
  endif()
endforeach()
