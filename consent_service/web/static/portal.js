// The portal's only script, and only an enhancement: the request form works without it.
//
// Proof of work (ALTCHA, protocol v1): the form carries a challenge signed by the service
// (data-challenge on the form). The script looks for the number whose SHA-256 of salt + number
// is the challenge, and puts the solution in the hidden field "altcha" before the form is sent.
// A solved form counts against the portal's ordinary limit; one sent without (no script, an old
// browser) against a stricter one. Nothing leaves the browser but the form itself.
(function () {
  "use strict";

  function hex(buffer) {
    return Array.prototype.map
      .call(new Uint8Array(buffer), function (b) {
        return ("0" + b.toString(16)).slice(-2);
      })
      .join("");
  }

  function solve(challenge) {
    var encoder = new TextEncoder();
    var algorithm = challenge.algorithm;
    var batch = 200;
    function from(start) {
      var tries = [];
      for (var n = start; n < start + batch && n <= challenge.maxNumber; n += 1) {
        tries.push(window.crypto.subtle.digest(algorithm, encoder.encode(challenge.salt + n)));
      }
      if (!tries.length) {
        return Promise.resolve(null);
      }
      return Promise.all(tries).then(function (hashes) {
        for (var i = 0; i < hashes.length; i += 1) {
          if (hex(hashes[i]) === challenge.challenge) {
            return start + i;
          }
        }
        return from(start + batch);
      });
    }
    return from(0);
  }

  function enhance(form) {
    var field = form.querySelector("input[name=altcha]");
    var challenge;
    try {
      challenge = JSON.parse(form.getAttribute("data-challenge"));
    } catch (e) {
      return;
    }
    if (!field || !challenge || !(window.crypto && window.crypto.subtle && window.TextEncoder)) {
      return;
    }
    var sending = false;
    var done = solve(challenge).then(function (number) {
      if (number !== null) {
        field.value = window.btoa(
          JSON.stringify({
            algorithm: challenge.algorithm,
            challenge: challenge.challenge,
            number: number,
            salt: challenge.salt,
            signature: challenge.signature,
          })
        );
      }
    });
    form.addEventListener("submit", function (event) {
      if (field.value || sending) {
        return;
      }
      event.preventDefault();
      sending = true;
      var button = form.querySelector("button[type=submit]");
      if (button) {
        button.setAttribute("aria-disabled", "true");
      }
      done.then(
        function () {
          form.submit();
        },
        function () {
          form.submit();
        }
      );
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[data-challenge]"), enhance);
})();
