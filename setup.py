"""pip install --no-build-isolation .   (offline, with Debian's python3-setuptools, cmake, ninja,
pybind11-dev and the C++ build dependencies of grace installed).

Builds the pybind11 module grace._core with CMake (target grace_py, in build-pip/) and installs
it with the pure-Python files of python/grace. Debian's system Python refuses pip installs
(PEP 668): use a virtual environment that sees Debian's numpy / torch:
    python3 -m venv --system-site-packages .venv && .venv/bin/pip install --no-build-isolation .
"""
import glob
import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build = os.path.join(ROOT, "build-pip")
        args = ["cmake", "-S", ROOT, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release", "-DGRACE_BUILD_TESTS=OFF",
                "-DGRACE_BUILD_BENCHMARKS=OFF", "-DGRACE_MPI=OFF", f"-DGRACE_PYTHON_EXECUTABLE={sys.executable}"]
        if shutil.which("ccache"):
            args.append("-DCMAKE_CXX_COMPILER_LAUNCHER=ccache")
        subprocess.check_call(args)
        subprocess.check_call(["cmake", "--build", build, "--target", "grace_py", "-j", str(min(os.cpu_count() or 2, 4))])
        built = glob.glob(os.path.join(build, "python", "grace", "_core*.so"))
        if not built:
            raise RuntimeError("grace._core was not built (is pybind11-dev installed?)")
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(built[0], target)


setup(
    name="grace",
    version="0.1.0",
    description="Expert placement and routing for distributed MoE inference (SGLang / vLLM formats)",
    packages=["grace"],
    package_dir={"": "python"},
    ext_modules=[Extension("grace._core", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    python_requires=">=3.9",
    install_requires=["numpy"],
)
