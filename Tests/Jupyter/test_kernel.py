"""The alvlm kernel under Jupyter's own kernel test suite, and the behaviours it does not cover: interrupts in
both modes with the state kept, shutdown during a running cell, restart, messages with a wrong signature,
labelling through input_request, and the reply to a client that cannot answer."""
import os
import signal
import time
import unittest

import jupyter_kernel_test
from jupyter_client.manager import start_new_kernel

LONG_LOOP = "x = 0\nfor i in 0..100000 { for j in 0..100000 { x = i + 1 } }"


class AlvlmKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "alvlm"
    language_name = "alvlm"
    file_extension = ".al"

    code_hello_world = 'print("hello, world")'
    # Progress of long work goes to stderr as one updating line (generating a small texture pool reports it).
    code_stderr = "stderr_pool = textures(train: 40, val: 0, test_per_class: 1, seed: 11)"
    code_generate_error = "undefined_name_for_the_test + 1"
    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": "[1, 2%]", "result": "[1, 2%]"},
        {"code": '"a" + "b"', "result": "ab"},
    ]
    code_display_data = [
        {"code": "hist([1, 2, 2, 3], bins: 3)", "mime": "image/png"},
        {"code": "plot([0.2, 0.4, 0.5])", "mime": "image/png"},
        {"code": "scatter([1, 2, 3], [3, 1, 2])", "mime": "image/png"},
    ]
    completion_samples = [
        {"text": "his", "matches": {"hist"}},
        {"text": "x = load_n", "matches": {"load_npy"}},
    ]
    complete_code_samples = ["1 + 1", "x = [1, 2]", "fn f(a) { return a }"]
    incomplete_code_samples = ["fn f(a) {", "x = [1, 2,", "print("]
    invalid_code_samples = ["1 +* 2", ")"]
    code_inspect_sample = "cec"
    supported_history_operations = ("tail", "range", "search")
    code_history_pattern = "6 *"


class KernelLifecycleTests(unittest.TestCase):
    def setUp(self):
        self.km, self.kc = start_new_kernel(kernel_name="alvlm", startup_timeout=30)

    def tearDown(self):
        self.kc.stop_channels()
        if self.km.is_alive():
            self.km.shutdown_kernel(now=True)

    def run_cell(self, code, timeout=30, allow_stdin=False):
        """The reply and the IOPub outputs of one execution."""
        msg_id = self.kc.execute(code, allow_stdin=allow_stdin)
        reply = self.kc.get_shell_msg(timeout=timeout)
        self.assertEqual(reply["parent_header"]["msg_id"], msg_id)
        outputs = []
        while True:
            msg = self.kc.get_iopub_msg(timeout=timeout)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return reply, outputs
            if msg["msg_type"] not in ("status", "execute_input"):
                outputs.append(msg)

    def text(self, outputs):
        return "".join(m["content"].get("text", "") or m["content"].get("data", {}).get("text/plain", "") for m in outputs)

    def interrupt_long_cell(self, interrupt):
        msg_id = self.kc.execute(LONG_LOOP)
        time.sleep(1.0)
        started = time.time()
        interrupt()
        reply = self.kc.get_shell_msg(timeout=10)
        self.assertEqual(reply["parent_header"]["msg_id"], msg_id)
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(reply["content"]["ename"], "KeyboardInterrupt")
        self.assertLess(time.time() - started, 3)
        # The state is intact: the loop got somewhere, and the kernel goes on.
        reply, outputs = self.run_cell("print(x > 0)")
        self.assertEqual(reply["content"]["status"], "ok")
        self.assertEqual(self.text(outputs), "true\n")

    def test_interrupt_message_mode_keeps_state(self):
        self.assertEqual(self.km.kernel_spec.interrupt_mode, "message")
        self.interrupt_long_cell(self.km.interrupt_kernel)

    def test_interrupt_signal_mode_keeps_state(self):
        self.interrupt_long_cell(lambda: self.km.signal_kernel(signal.SIGINT))

    def test_shutdown_during_a_running_cell_is_quick_and_clean(self):
        self.kc.execute(LONG_LOOP)
        time.sleep(0.5)
        started = time.time()
        self.km.shutdown_kernel(now=False)
        self.assertLess(time.time() - started, 2.0)
        self.assertFalse(self.km.is_alive())

    def test_restart_gives_a_fresh_state(self):
        self.run_cell("kept = 1")
        self.km.restart_kernel(now=False)
        self.kc.wait_for_ready(timeout=30)
        reply, outputs = self.run_cell("kept")
        self.assertEqual(reply["content"]["status"], "error")
        self.assertIn("kept", reply["content"]["evalue"])

    def test_a_message_with_a_wrong_signature_is_ignored(self):
        key = self.kc.session.key
        self.kc.session.key = b"not-the-key"
        self.kc.execute('print("must not run")\nran = true')
        with self.assertRaises(Exception):
            self.kc.get_shell_msg(timeout=2)
        self.kc.session.key = key
        reply, outputs = self.run_cell("print(vars)")
        reply, outputs = self.run_cell("ran")
        self.assertEqual(reply["content"]["status"], "error", "the unsigned cell must not have run")

    def test_errors_carry_the_located_message(self):
        reply, outputs = self.run_cell("x = 1\ncec(kk: 10)")
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual([m["msg_type"] for m in outputs], ["error"])
        traceback = "\n".join(outputs[0]["content"]["traceback"])
        self.assertIn("line 2, column", traceback)
        self.assertIn("^", traceback)
        self.assertIn("kk", outputs[0]["content"]["evalue"])

    def test_help_shortcuts_work_as_in_the_repl(self):
        for code in ("help cec", "cec?", "x = 1\nhelp cec"):
            reply, outputs = self.run_cell(code)
            self.assertEqual(reply["content"]["status"], "ok")
            self.assertIn("cec(k: 10", self.text(outputs))

    def test_tables_come_with_markdown(self):
        reply, _ = self.run_cell('pool = textures(train: 60, val: 0, test_per_class: 1)\nmodel = clip("tiny")\n'
                                 'cmp = compare([random()], pool, model, rounds: 1, budget: 2, trainer: linear_probe(), seeds: 1)', timeout=120)
        self.assertEqual(reply["content"]["status"], "ok", reply["content"])
        reply, outputs = self.run_cell("for i in 0..2 { table(cmp) }")
        results = [m for m in outputs if m["msg_type"] == "display_data"]
        self.assertEqual(len(results), 2)
        data = results[0]["content"]["data"]
        self.assertIn("strategy", data["text/plain"])
        # Rounds read as labels, cumulative percent of the 60-image pool and labels per class (20 classes).
        self.assertTrue(data["text/markdown"].startswith("| strategy | round 1: 2 (3.3%, 0.1/class) | AULC |\n| --- | --- | --- |\n| random | "),
                        data["text/markdown"])

    def test_labelling_through_input_requests(self):
        setup = ('pool = textures(train: 60, val: 0, test_per_class: 1)\nmodel = clip("tiny")\n'
                 'q = random().query(pool, model, budget: 2)')
        reply, _ = self.run_cell(setup, timeout=120)
        self.assertEqual(reply["content"]["status"], "ok", reply["content"])
        # A client that cannot answer gets a clear error, not a hang.
        reply, outputs = self.run_cell("label(q)")
        self.assertEqual(reply["content"]["status"], "error")
        self.assertIn("export/import", reply["content"]["evalue"])
        msg_id = self.kc.execute("answers = label(q, journal: \"%s/labels.journal\")\nprint(len(answers))" % os.environ["ALVLM_CACHE"],
                                 allow_stdin=True)
        prompts = 0
        while True:
            try:
                request = self.kc.get_stdin_msg(timeout=30)
            except Exception:
                break
            self.assertEqual(request["msg_type"], "input_request")
            prompts += 1
            self.kc.input("0" if prompts == 1 else "s")
            if prompts == 2:
                break
        reply = self.kc.get_shell_msg(timeout=30)
        self.assertEqual(reply["parent_header"]["msg_id"], msg_id)
        self.assertEqual(reply["content"]["status"], "ok", reply["content"])
        self.assertEqual(prompts, 2)
        images = []
        while True:
            msg = self.kc.get_iopub_msg(timeout=10)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "display_data":
                images.append(msg)
            if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
                last = msg["content"]["text"]
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        self.assertEqual(len(images), 2, "each image is shown while labelling")
        self.assertTrue(last.endswith("1\n"), last)
