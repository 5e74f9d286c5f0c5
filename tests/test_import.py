import subprocess
import sys


def test_import_loads_no_framework_or_model():
    code = (
        "import os, sys; env = dict(os.environ); import maskwatch; "
        "heavy = [m for m in ('torch', 'onnxruntime', 'cv2', 'matplotlib', 'faster_coco_eval', 'retinaface') if m in sys.modules]; "
        "assert not heavy, heavy; assert dict(os.environ) == env, 'env changed'; print(maskwatch.__version__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()


def test_cli_help_imports_nothing_heavy():
    code = (
        "import sys; from maskwatch.cli import build_parser; build_parser().format_help(); "
        "assert 'onnxruntime' not in sys.modules and 'torch' not in sys.modules and 'cv2' not in sys.modules"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
