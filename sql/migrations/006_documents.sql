-- Good Faith Estimates (costsvc/services/documents.py, docs/DOCUMENTS.md).
--
-- A GFE is issued from a stored estimate and never changes.  `content` is the
-- whole document except its PHI (items, provider, dates, deadline: JSON of
-- costsvc.domain.gfe.GfeContent); the patient's name, date of birth and
-- diagnosis codes are in `phi`, one Fernet token (costsvc.phi.PhiVault) of their JSON.
-- gfe_id is random (secrets.token_urlsafe), not time-ordered: whoever holds it
-- may read the GFE without a key, so it must not be guessable.

CREATE TABLE gfes (
    gfe_id                  text PRIMARY KEY,
    estimate_id             uuid NOT NULL REFERENCES estimates (estimate_id),
    issued_at               timestamptz NOT NULL,
    issued_on               date NOT NULL,
    valid_until             date NOT NULL,
    requested_by            text NOT NULL CHECK (requested_by IN ('patient', 'provider')),
    program_id              text NOT NULL,
    level_of_care           text NOT NULL,
    total_expected_charges  numeric(14, 2) NOT NULL,
    deadline                date,
    deadline_met            boolean NOT NULL,
    content                 jsonb NOT NULL,
    phi                     bytea NOT NULL
);
-- Staff list GFEs by issue date (GET /v1/gfe?from=&to=).
CREATE INDEX gfes_issued ON gfes (issued_at, gfe_id);
CREATE INDEX gfes_estimate ON gfes (estimate_id);
