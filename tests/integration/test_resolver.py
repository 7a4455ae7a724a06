"""The README's resolver example: getaddrinfo on the executor behind
evhttp, answers over real HTTP, drains on SIGTERM."""

import http.client
import re
import signal
import unittest

from loopd_harness import TIMEOUT, LoopdTestCase, loop, task


class ResolverTest(LoopdTestCase):

    def get(self, port, path):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        self.addCleanup(c.close)
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read().decode()

    def test_resolves_on_the_executor_and_drains_on_cancel(self):
        lp = loop("dns", task("resolver", "resolver", port=0))
        lp["executor"] = {"workers": 2}
        d = self.start([lp])
        d.wait_ready()
        port = d.echo_port(task="resolver")
        status, body = self.get(port, "/resolve?name=127.0.0.1")
        self.assertEqual((status, body), (200, "127.0.0.1\n"))
        status, body = self.get(port, "/resolve?name=localhost")
        self.assertEqual(status, 200)
        self.assertRegex(body, r"(?m)^(127\.0\.0\.1|::1)$")
        status, _ = self.get(port, "/nowhere")
        self.assertEqual(status, 400)
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)
        d.wait_record(task="resolver", msg="draining 0 lookups", timeout=0)
        st = d.wait_record(msg=re.compile(r"^executor of loop 'dns'"),
                           timeout=0)
        self.assertEqual((st["jobs_submitted"], st["jobs_completed"]),
                         (2, 2))


if __name__ == "__main__":
    unittest.main()
