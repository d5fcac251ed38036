"""Bounce reports as mail servers write them: a Postfix DSN (RFC 3464) and an ARF
complaint (RFC 5965), each naming its reader through a VERP return address."""

from __future__ import annotations

from digest.mail.bounces import verp_address

BOUNCES = "bounces@news.example.com"


def dsn(
    address: str,
    status: str = "5.1.1",
    *,
    verp: int | None = None,
    action: str = "failed",
    diagnostic: str = "550 5.1.1 <{address}>: Recipient address rejected: User unknown",
    uid: str = "1",
) -> bytes:
    to = verp_address(BOUNCES, verp) if verp is not None else BOUNCES
    diagnostic = diagnostic.replace("{address}", address)
    return f"""Return-Path: <>
Received: by mx.example.net (Postfix) id 4F2D3; Wed,  2 Dec 2026 06:00:01 +0000 (UTC)
Date: Wed,  2 Dec 2026 06:00:01 +0000 (UTC)
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: {to}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="4F2D3.1764655201/mx.example.net"
Message-Id: <dsn-{uid}@mx.example.net>

This is a MIME-encapsulated message.

--4F2D3.1764655201/mx.example.net
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.net.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<{address}>: host mx.example.org[192.0.2.25] said: {diagnostic}

--4F2D3.1764655201/mx.example.net
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
X-Postfix-Queue-ID: 4F2D3
X-Postfix-Sender: rfc822; {to}
Arrival-Date: Wed,  2 Dec 2026 06:00:00 +0000 (UTC)

Final-Recipient: rfc822; {address}
Original-Recipient: rfc822;{address}
Action: {action}
Status: {status}
Remote-MTA: dns; mx.example.org
Diagnostic-Code: smtp; {diagnostic}

--4F2D3.1764655201/mx.example.net
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

Return-Path: <{to}>
From: Test Insider <insider@news.example.com>
To: {address}
Subject: Test Insider: Wagon news
Message-ID: <2026-12-01.abc@news.example.com>

--4F2D3.1764655201/mx.example.net--
""".replace("\n", "\r\n").encode()


def arf(address: str, *, verp: int | None = None, uid: str = "1", kind: str = "abuse") -> bytes:
    mail_from = f"Original-Mail-From: <{verp_address(BOUNCES, verp)}>\n" if verp else ""
    return_path = verp_address(BOUNCES, verp) if verp else BOUNCES
    return f"""From: <staff@fbl.example.net>
Date: Wed, 2 Dec 2026 06:10:00 +0000
Subject: FW: Test Insider: Wagon news
To: <fbl@news.example.com>
Message-ID: <arf-{uid}@fbl.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
     boundary="part1_13d.2e68ed54_boundary"

--part1_13d.2e68ed54_boundary
Content-Type: text/plain; charset="US-ASCII"
Content-Transfer-Encoding: 7bit

This is an email abuse report for an email message received from IP
192.0.2.1 on Wed, 2 Dec 2026 06:00:00 +0000.

--part1_13d.2e68ed54_boundary
Content-Type: message/feedback-report

Feedback-Type: {kind}
User-Agent: SomeGenerator/1.0
Version: 1
{mail_from}Original-Rcpt-To: <{address}>
Arrival-Date: Wed, 2 Dec 2026 06:00:00 +0000
Reporting-MTA: dns; mail.fbl.example.net
Source-IP: 192.0.2.1
Reported-Domain: news.example.com

--part1_13d.2e68ed54_boundary
Content-Type: message/rfc822
Content-Disposition: inline

Return-Path: <{return_path}>
From: Test Insider <insider@news.example.com>
To: {address}
Subject: Test Insider: Wagon news
Message-ID: <2026-12-01.abc@news.example.com>
Date: Tue, 1 Dec 2026 07:00:00 +0000

The stories of the day.
--part1_13d.2e68ed54_boundary--
""".replace("\n", "\r\n").encode()
